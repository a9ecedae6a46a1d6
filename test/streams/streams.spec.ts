import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MarketStream } from '../../src/markets/market-stream.service.js';
import { StreamPublisher } from '../../src/streams/stream-publisher.js';
import type { JobEvent, OrderEvent, StreamEvent } from '../../src/streams/stream-events.js';
import { StreamGateway } from '../../src/streams/stream.gateway.js';
import { createMember, type TestMember } from '../harness/factories.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';
import { eventually, StreamClient, type StreamMessage } from './stream-client.js';

// The gateway on its own: events here go through the real StreamPublisher and Redis, as the
// domains' do (market-stream.spec.ts covers what the market publishes); snapshots come from the
// real database (orders placed over HTTP).

// A client that stops reading also stops answering pings: the primary pings rarely so the slow
// consumer test sees the buffer limit act; the replica pings fast for the heartbeat tests.
const STREAM_ENV = {
  STREAM_MAX_BUFFER_BYTES: String(256 * 1024),
  STREAM_PING_INTERVAL_MS: '60000',
  STREAM_IDLE_TIMEOUT_MS: '1500',
  STREAM_CLOSE_GRACE_MS: '1500',
};
const FAST_PING_ENV = { ...STREAM_ENV, STREAM_PING_INTERVAL_MS: '300' };

const seqs = (ms: StreamMessage[]) => ms.map((m) => m.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('streams: /v1/stream gateway and Redis fan-out', () => {
  let t: TestApp;
  let replica: TestApp;
  let a: TestMember;
  let b: TestMember;
  let series: string;
  let other: string;
  let publisher: StreamPublisher;
  let aOrderId: string;
  const clients: StreamClient[] = [];
  const connect = async (app: TestApp, opts?: { key?: string; autoPong?: boolean }) => {
    const c = await StreamClient.connect(app, opts);
    clients.push(c);
    return c;
  };
  const gateway = () => t.app.get(StreamGateway);

  const bookDelta = (code: string, price: string, quantity: number, version?: number): StreamEvent => ({
    channel: 'book',
    series: code,
    data: { levels: [{ side: 'BUY', price, quantity }], ...(version === undefined ? {} : { version }) },
  });
  const orderEvent = (m: TestMember, id: string): StreamEvent => ({
    channel: 'orders',
    series,
    memberIds: [m.id],
    data: { id, series, memberId: m.id, side: 'BUY', price: '10.00', status: 'OPEN' } as unknown as OrderEvent,
  });
  const jobEvent = (buyer: TestMember, seller: string, id: string): StreamEvent => ({
    channel: 'jobs',
    series,
    memberIds: [buyer.id, seller],
    data: { id, series, status: 'LEASED' } as unknown as JobEvent,
  });

  beforeAll(async () => {
    t = await startTestApp({ env: STREAM_ENV });
    replica = await startTestApp({ replicaOf: t, env: FAST_PING_ENV });
    publisher = t.app.get(StreamPublisher);
    a = await createMember(t, 'TRADER');
    b = await createMember(t, 'TRADER');
    await fund(t, a, '1000.00');
    await fund(t, b, '1000.00');
    const product = await createProduct(t);
    series = await createSeries(t, product);
    other = await createSeries(t, product);
    const placed = await order(a, series, 'BUY', '10.00', 3);
    expect(placed.status, placed.text).toBe(201);
    aOrderId = placed.body.id;
    expect((await order(a, series, 'BUY', '9.50', 1)).status).toBe(201);
    expect((await order(b, series, 'SELL', '12.00', 2)).status).toBe(201);
    // One cross, so the tape is not empty.
    expect((await order(b, series, 'SELL', '10.00', 1)).status).toBe(201);
    // The market publishes these orders after commit: let that pass before the tests subscribe.
    await t.app.get(MarketStream).idle();
    await new Promise((r) => setTimeout(r, 100));
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await replica?.close();
    await t?.close();
  });

  it('book: a snapshot equal to GET /v1/series/:code/book, then deltas in publish order with gapless seq', async () => {
    const c = await connect(t);
    const snapshot = await c.subscribe('book', series);
    const rest = await t.clearing.get<{ bids: unknown[]; asks: unknown[] }>(`/v1/series/${series}/book?levels=100`);
    expect(snapshot).toMatchObject({ channel: 'book', series, seq: 1, type: 'snapshot' });
    expect(snapshot.data).toEqual(rest.body);
    expect(snapshot.data).toMatchObject({
      bids: [
        { price: '10.00', quantity: 2, orders: 1 },
        { price: '9.50', quantity: 1, orders: 1 },
      ],
      asks: [{ price: '12.00', quantity: 2, orders: 1 }],
    });

    // 60 deltas in three publishes, plus one for another series that this subscription must not see.
    const prices = range(1, 60).map((i) => `${10 + i}.00`);
    await publisher.publish(prices.slice(0, 20).map((p, i) => bookDelta(series, p, i + 1)));
    await publisher.publish([bookDelta(other, '1.00', 1), ...prices.slice(20, 40).map((p, i) => bookDelta(series, p, i + 21))]);
    await publisher.publish(prices.slice(40).map((p, i) => bookDelta(series, p, i + 41)));
    await c.waitFor(() => c.stream('book', series).length === 61);
    const got = c.stream('book', series);
    expect(seqs(got)).toEqual(range(1, 61));
    expect(got.slice(1).every((m) => m.type === 'delta' && m.series === series)).toBe(true);
    expect(got.slice(1).map((m) => (m.data as { levels: { price: string }[] }).levels[0].price)).toEqual(prices);
    expect(c.messages.some((m) => m.series === other)).toBe(false);

    // Resubscribing starts over: a fresh snapshot with seq 1.
    const again = await c.subscribe('book', series);
    expect(again).toMatchObject({ type: 'snapshot', seq: 1 });
    await publisher.publish(bookDelta(series, '10.00', 7));
    await c.waitFor(() => c.stream('book', series).length === 2);
    expect(c.stream('book', series)[1]).toMatchObject({
      seq: 2,
      type: 'delta',
      data: { levels: [{ side: 'BUY', price: '10.00', quantity: 7 }] },
    });
  });

  it('book: a versioned delta older than one already delivered is dropped without using a seq', async () => {
    const c = await connect(t);
    await c.subscribe('book', series);
    await publisher.publish([bookDelta(series, '10.00', 5, 20), bookDelta(series, '10.00', 4, 19), bookDelta(series, '10.00', 3, 21)]);
    await c.waitFor(() => c.stream('book', series).length === 3);
    await new Promise((r) => setTimeout(r, 100));
    expect(c.stream('book', series).map((m) => [m.seq, (m.data as { version?: number }).version])).toEqual([
      [1, undefined],
      [2, 20],
      [3, 21],
    ]);
  });

  it('trades and series: recent items and current state as the snapshot, then events', async () => {
    const c = await connect(t);
    const trades = await c.subscribe('trades', series);
    expect(trades).toMatchObject({ channel: 'trades', series, seq: 1, type: 'snapshot' });
    const items = (trades.data as { items: Record<string, unknown>[] }).items;
    expect(items).toEqual([
      { id: expect.any(String), series, price: '10.00', currency: 'CNY', quantity: 1, block: false, createdAt: expect.any(String) },
    ]);
    // The public tape names no members.
    expect(JSON.stringify(items)).not.toContain(a.id);

    const board = await c.subscribe('series');
    expect((board.data as { items: { code: string }[] }).items.map((s) => s.code)).toEqual(expect.arrayContaining([series, other]));
    const one = await c.subscribe('series', series);
    expect((one.data as { items: { code: string; status: string }[] }).items).toEqual([
      expect.objectContaining({ code: series, status: 'TRADING' }),
    ]);

    const trade = {
      id: 'x',
      series,
      price: '11.00',
      currency: 'CNY' as const,
      quantity: 2,
      block: false,
      createdAt: new Date().toISOString(),
    };
    await publisher.publish([
      { channel: 'trades', series, data: trade },
      { channel: 'series', series, data: { kind: 'settlement-price', businessDate: '2026-12-04', price: '10.50', currency: 'CNY' } },
    ]);
    await c.next((m) => m.channel === 'trades' && m.type === 'event');
    expect(c.stream('trades', series)).toEqual([trades, { channel: 'trades', series, seq: 2, type: 'event', data: trade }]);
    // Two subscriptions on `series` (all, and this one), each with its own seq.
    await c.waitFor(() => c.messages.filter((m) => m.channel === 'series' && m.type === 'event').length === 2);
    const seriesEvents = c.messages.filter((m) => m.channel === 'series' && m.type === 'event');
    expect(seriesEvents.map((m) => m.seq)).toEqual([2, 2]);
    expect(seriesEvents[0]).toMatchObject({ series, data: { kind: 'settlement-price', price: '10.50' } });
  });

  it('answers bad requests with stable error codes and keeps the connection', async () => {
    const c = await connect(t);
    expect(await c.request('{not json')).toMatchObject({ type: 'error', code: 'BAD_JSON' });
    expect(await c.request([1, 2])).toMatchObject({ type: 'error', code: 'INVALID_MESSAGE' });
    expect(await c.request({ op: 'dance' })).toMatchObject({ type: 'error', code: 'UNKNOWN_OP' });
    expect(await c.request({ op: 'subscribe', channel: 'gossip' })).toMatchObject({ type: 'error', code: 'UNKNOWN_CHANNEL' });
    expect(await c.request({ op: 'subscribe', channel: 'book' })).toMatchObject({ type: 'error', code: 'SERIES_REQUIRED' });
    expect(await c.request({ op: 'subscribe', channel: 'book', series: 'NOPE-1' })).toMatchObject({
      type: 'error',
      code: 'NOT_FOUND',
      channel: 'book',
      series: 'NOPE-1',
    });
    expect(await c.request({ op: 'subscribe', channel: 'orders' })).toMatchObject({
      type: 'error',
      code: 'UNAUTHENTICATED',
      channel: 'orders',
    });
    expect(await c.request({ op: 'unsubscribe', channel: 'trades' })).toMatchObject({ type: 'error', code: 'NOT_SUBSCRIBED' });
    expect(await c.request({ op: 'subscribe', channel: 'margin-calls', series })).toMatchObject({ code: 'SERIES_NOT_APPLICABLE' });
    // Still usable.
    expect(await c.subscribe('trades')).toMatchObject({ type: 'snapshot', seq: 1 });
    expect(await c.request({ op: 'unsubscribe', channel: 'trades' })).toEqual({ type: 'ack', op: 'unsubscribe', channel: 'trades' });
    await publisher.publish({
      channel: 'trades',
      series,
      data: { id: 'y', series, price: '1.00', currency: 'CNY', quantity: 1, block: false, createdAt: '' },
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(c.messages.filter((m) => m.type === 'event')).toEqual([]);
    expect(c.closed).toBeUndefined();
  });

  it('private channels: each member sees only its own events, clearing sees all; header or first-message auth', async () => {
    const byHeader = await connect(t, { key: a.key });
    const byMessage = await connect(t);
    expect(await byMessage.request({ op: 'auth', key: b.key })).toEqual({ type: 'ack', op: 'auth', memberId: b.id, role: 'trader' });
    const clearing = await connect(t, { key: t.clearingKey });

    // Snapshots: the member's open orders, read through the REST read service.
    const aOrders = await byHeader.subscribe('orders');
    expect((aOrders.data as { items: { id: string; memberId: string }[] }).items.map((o) => o.memberId)).toEqual([a.id, a.id]);
    expect((aOrders.data as { items: { id: string }[] }).items.map((o) => o.id)).toContain(aOrderId);
    const bOrders = await byMessage.subscribe('orders');
    expect((bOrders.data as { items: { memberId: string }[] }).items.map((o) => o.memberId)).toEqual([b.id]);
    const allOrders = await clearing.subscribe('orders');
    expect((allOrders.data as { items: unknown[] }).items).toHaveLength(3);
    for (const c of [byHeader, byMessage, clearing]) {
      expect(await c.subscribe('jobs')).toMatchObject({ type: 'snapshot', data: { items: [] } });
      expect(await c.subscribe('margin-calls')).toMatchObject({ type: 'snapshot', data: { items: [] } });
      expect(await c.subscribe('obligations')).toMatchObject({ type: 'snapshot', data: { items: [] } });
    }

    const operator = '00000000-0000-4000-8000-000000000001';
    await publisher.publish([
      orderEvent(a, 'oa1'),
      orderEvent(b, 'ob1'),
      jobEvent(a, operator, 'ja1'),
      jobEvent(b, operator, 'jb1'),
      orderEvent(a, 'oa2'),
    ]);
    await clearing.waitFor(() => clearing.messages.filter((m) => m.type === 'event').length === 5);
    await byHeader.waitFor(() => byHeader.messages.filter((m) => m.type === 'event').length === 3);
    await byMessage.waitFor(() => byMessage.messages.filter((m) => m.type === 'event').length === 2);
    await new Promise((r) => setTimeout(r, 150));
    const ids = (c: StreamClient, channel: string) =>
      c
        .stream(channel)
        .slice(1)
        .map((m) => [m.seq, (m.data as { id: string }).id]);
    expect(ids(byHeader, 'orders')).toEqual([
      [2, 'oa1'],
      [3, 'oa2'],
    ]);
    expect(ids(byHeader, 'jobs')).toEqual([[2, 'ja1']]);
    expect(ids(byMessage, 'orders')).toEqual([[2, 'ob1']]);
    expect(ids(byMessage, 'jobs')).toEqual([[2, 'jb1']]);
    expect(ids(clearing, 'orders')).toEqual([
      [2, 'oa1'],
      [3, 'ob1'],
      [4, 'oa2'],
    ]);
    expect(ids(clearing, 'jobs')).toEqual([
      [2, 'ja1'],
      [3, 'jb1'],
    ]);
    // memberIds is routing, not content.
    expect(clearing.messages.some((m) => 'memberIds' in m)).toBe(false);
    expect(await byHeader.request({ op: 'auth', key: b.key })).toMatchObject({ type: 'error', code: 'ALREADY_AUTHENTICATED' });
  });

  it('refuses a bad key by header or by message, and a key revoked while connected', async () => {
    const badHeader = await connect(replica, { key: `tck_${'x'.repeat(43)}` });
    expect(await badHeader.next((m) => m.type === 'error')).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect((await badHeader.whenClosed()).code).toBe(1008);

    const badMessage = await connect(t);
    expect(await badMessage.request({ op: 'auth', key: 'short' })).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect((await badMessage.whenClosed()).code).toBe(1008);

    const m = await createMember(t, 'TRADER');
    const live = await connect(replica, { key: m.key });
    expect(await live.subscribe('orders')).toMatchObject({ type: 'snapshot' });
    expect((await t.clearing.delete(`/v1/api-keys/${m.keyId}`)).status).toBe(200);
    // Checked again at the next heartbeat (the replica pings every 300 ms).
    expect(await live.next((x) => x.type === 'error', 5_000)).toMatchObject({ code: 'API_KEY_REVOKED' });
    expect((await live.whenClosed()).code).toBe(1008);
    const revoked = await connect(replica, { key: m.key });
    expect(await revoked.next((x) => x.type === 'error')).toMatchObject({ code: 'API_KEY_REVOKED' });
  });

  it('fan-out: an event published on one API copy reaches a subscriber of another', async () => {
    const onReplica = await connect(replica, { key: a.key });
    await onReplica.subscribe('orders');
    await onReplica.subscribe('book', series);
    await publisher.publish([orderEvent(a, 'via-redis'), bookDelta(series, '10.00', 9)]);
    const ev = await onReplica.next((m) => m.channel === 'orders' && m.type === 'event');
    expect(ev).toMatchObject({ seq: 2, data: { id: 'via-redis' } });
    expect(await onReplica.next((m) => m.channel === 'book' && m.type === 'delta')).toMatchObject({ seq: 2 });
    // And the other way round.
    const onPrimary = await connect(t);
    await onPrimary.subscribe('book', series);
    await replica.app.get(StreamPublisher).publish(bookDelta(series, '10.00', 8));
    expect(await onPrimary.next((m) => m.type === 'delta')).toMatchObject({ seq: 2, data: { levels: [{ quantity: 8 }] } });
  });

  it('afterCommit publishes only once the transaction promise resolved; a rollback publishes nothing', async () => {
    const c = await connect(t);
    await c.subscribe('book', series);
    await expect(publisher.afterCommit(Promise.reject(new Error('rolled back')), () => [bookDelta(series, '10.00', 1)])).rejects.toThrow(
      'rolled back',
    );
    expect(await publisher.afterCommit(Promise.resolve(42), (n) => [bookDelta(series, '10.00', n)])).toBe(42);
    await c.next((m) => m.type === 'delta');
    await new Promise((r) => setTimeout(r, 100));
    expect(c.stream('book', series).map((m) => [m.seq, (m.data as { levels?: { quantity: number }[] }).levels?.[0].quantity])).toEqual([
      [1, undefined],
      [2, 42],
    ]);
  });

  it('a Redis reconnect of the fan-out subscriber sends every subscription a fresh snapshot', async () => {
    const c = await connect(t);
    await c.subscribe('book', series);
    await publisher.publish(bookDelta(series, '10.00', 3));
    await c.next((m) => m.type === 'delta');
    // Events published while the subscriber was away are lost to it: the snapshot replaces them.
    gateway()['subscriber']!.disconnect(true);
    await c.next((m) => m.type === 'snapshot' && m.seq === 1, 10_000, 2);
    await eventually(async () => {
      await publisher.publish(bookDelta(series, '10.00', 4));
      return c.stream('book', series).length > 1;
    });
    expect(seqs(c.stream('book', series))).toEqual(range(1, c.stream('book', series).length));
  });

  it('slow consumers: a client that stops reading is closed with 1013 and its buffer released; readers are unaffected', async () => {
    const reader = await connect(t);
    const slow = await connect(t);
    const stuck = await connect(t);
    for (const c of [reader, slow, stuck]) await c.subscribe('book', other);
    slow.ws.pause();
    stuck.ws.pause();
    const before = gateway().stats().slowConsumersClosed;
    const open = gateway().stats().connections;
    const levels = range(1, 200).map((i) => ({ side: 'SELL' as const, price: `${i}.00`, quantity: i }));
    let published = 0;
    // Loopback sockets absorb a few MB in kernel buffers before the server's own buffer grows.
    while (gateway().stats().slowConsumersClosed < before + 2 && published < 4_000) {
      await publisher.publish(range(1, 50).map(() => ({ channel: 'book', series: other, data: { levels } }) satisfies StreamEvent));
      published += 50;
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(gateway().stats().slowConsumersClosed).toBe(before + 2);

    // The one that reads again within the grace period drains what was sent, then sees 1013.
    slow.ws.resume();
    expect(await slow.whenClosed()).toMatchObject({ code: 1013 });
    const got = slow.stream('book', other);
    expect(seqs(got)).toEqual(range(1, got.length));
    expect(got.length).toBeLessThan(published + 1);

    // The one that never reads is cut after the grace; the server holds nothing of it any more.
    await eventually(() => gateway().stats().connections === open - 2, 10_000);
    expect(gateway().stats().bufferedBytes).toBeLessThan(256 * 1024);

    // The reader got everything, in order, without gaps.
    await reader.waitFor(() => reader.stream('book', other).length === published + 1, 20_000);
    expect(seqs(reader.stream('book', other))).toEqual(range(1, published + 1));
    expect(reader.closed).toBeUndefined();
  });

  it('heartbeat: a peer that stops answering pings is dropped; an idle unauthenticated connection times out', async () => {
    const open = replica.app.get(StreamGateway).stats().connections;
    const start = Date.now();
    const dead = await connect(replica, { autoPong: false });
    await dead.subscribe('trades');
    const idle = await connect(replica);
    const wasBusy = await connect(replica);
    await wasBusy.subscribe('trades');
    expect((await dead.whenClosed(5_000)).code).toBe(1006);
    // At most two ping intervals (300 ms): one unanswered ping, then the cut.
    expect(Date.now() - start).toBeLessThan(1_000);

    expect(await idle.whenClosed(5_000)).toMatchObject({ code: 1008 });
    // Subscribed, it is not idle; unsubscribed again, it is.
    expect(wasBusy.closed).toBeUndefined();
    await wasBusy.request({ op: 'unsubscribe', channel: 'trades' });
    expect(await wasBusy.whenClosed(5_000)).toMatchObject({ code: 1008 });
    await eventually(() => replica.app.get(StreamGateway).stats().connections === open);
  });
});
