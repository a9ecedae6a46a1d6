import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { applyBookMessage, TokenClearStream, type LiveBook, type StreamMessage as ClientMessage } from '../../src/client/stream.js';
import { ListingsService } from '../../src/markets/listings.service.js';
import { MarketStream } from '../../src/markets/market-stream.service.js';
import { MarketsRepository } from '../../src/markets/markets.repository.js';
import { TransactionRunner } from '../../src/platform/prisma/transaction-runner.js';
import { Clock } from '../../src/platform/time/clock.js';
import { createMember, type TestMember } from '../harness/factories.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';
import { StreamClient, type StreamMessage } from './stream-client.js';

// The market publishes on /v1/stream once its transactions commit: orders placed over HTTP, a
// real ws client, and the book rebuilt from the snapshot and deltas checked against REST.

interface Level {
  price: string;
  quantity: number;
}
interface Book {
  bids: Level[];
  asks: Level[];
}
interface Delta {
  levels: { side: 'BUY' | 'SELL'; price: string; quantity: number }[];
  version: number;
}

const seqs = (ms: StreamMessage[]) => ms.map((m) => m.seq);
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const levels = (ls: Level[]) => ls.map((l) => ({ price: l.price, quantity: l.quantity }));

/** Snapshot, then every delta applied in order: absolute totals, 0 removes a level. */
function rebuild(stream: StreamMessage[]): Book {
  const snap = stream[0].data as Book;
  const sides = {
    BUY: new Map(levels(snap.bids).map((l) => [l.price, l.quantity])),
    SELL: new Map(levels(snap.asks).map((l) => [l.price, l.quantity])),
  };
  for (const m of stream.slice(1)) for (const l of (m.data as Delta).levels) sides[l.side].set(l.price, l.quantity);
  const side = (m: Map<string, number>, dir: number) =>
    [...m]
      .filter(([, q]) => q > 0)
      .map(([price, quantity]) => ({ price, quantity }))
      .sort((x, y) => dir * (Number(x.price) - Number(y.price)));
  return { bids: side(sides.BUY, -1), asks: side(sides.SELL, 1) };
}

describe('streams: the market publishes after commit', () => {
  let t: TestApp;
  let replica: TestApp;
  let a: TestMember;
  let b: TestMember;
  let product: string;
  const clients: StreamClient[] = [];
  const connect = async (app: TestApp, key?: string) => {
    const c = await StreamClient.connect(app, key ? { key } : {});
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await startTestApp();
    replica = await startTestApp({ replicaOf: t });
    a = await createMember(t, 'TRADER');
    b = await createMember(t, 'TRADER');
    await fund(t, a, '5000.00');
    await fund(t, b, '5000.00');
    product = await createProduct(t);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await replica?.close();
    await t?.close();
  });

  it('book and trades: snapshot, deltas and the trade in order with gapless seq; the rebuilt book equals GET /book', async () => {
    const series = await createSeries(t, product);
    expect((await order(a, series, 'BUY', '9.00', 2)).status).toBe(201);
    const c = await connect(t);
    expect(await c.subscribe('book', series)).toMatchObject({ seq: 1, type: 'snapshot', data: { bids: [{ price: '9.00', quantity: 2 }] } });
    expect(await c.subscribe('trades', series)).toMatchObject({ seq: 1, type: 'snapshot', data: { items: [] } });

    expect((await order(a, series, 'BUY', '10.00', 3)).status).toBe(201);
    expect((await order(b, series, 'SELL', '11.00', 4)).status).toBe(201);
    const cross = await order(b, series, 'SELL', '10.00', 2);
    expect(cross.status, cross.text).toBe(201);
    expect(cross.body.trades).toHaveLength(1);
    const sweep = await order(a, series, 'BUY', '11.00', 5); // takes 4 at 11.00, rests 1
    expect(sweep.body.filledQuantity).toBe(4);

    const trade = await c.next((m) => m.channel === 'trades' && m.type === 'event' && (m.data as { price: string }).price === '11.00');
    await t.app.get(MarketStream).idle();
    await c.waitFor(() =>
      c.stream('book', series).some((m) => (m.data as Delta).levels?.some((l) => l.price === '11.00' && l.side === 'BUY')),
    );
    const book = c.stream('book', series);
    const trades = c.stream('trades', series);
    expect(seqs(book)).toEqual(range(book.length));
    expect(seqs(trades)).toEqual([1, 2, 3]);
    expect(book.slice(1).every((m) => m.type === 'delta')).toBe(true);
    expect(trades.slice(1).map((m) => m.data)).toEqual([
      expect.objectContaining({ id: cross.body.trades[0].id, series, price: '10.00', quantity: 2, block: false, currency: 'CNY' }),
      trade.data,
    ]);
    expect(trade.data).toMatchObject({ price: '11.00', quantity: 4 });
    expect(JSON.stringify(trades)).not.toContain(a.id);
    // Versions only grow (the DB clock at each read).
    const versions = book.slice(1).map((m) => (m.data as Delta).version);
    expect(versions).toEqual([...versions].sort((x, y) => x - y));

    const rest = await t.clearing.get<Book>(`/v1/series/${series}/book?levels=100`);
    expect(rebuild(book)).toEqual({ bids: levels(rest.body.bids), asks: levels(rest.body.asks) });
    expect(rest.body).toMatchObject({
      bids: [
        { price: '11.00', quantity: 1 },
        { price: '10.00', quantity: 1 },
        { price: '9.00', quantity: 2 },
      ],
      asks: [],
    });

    // A cancel removes its level.
    const resting = await order(a, series, 'BUY', '8.00', 1);
    expect((await a.client.delete(`/v1/orders/${resting.body.id}`)).status).toBe(200);
    await c.waitFor(() =>
      c.stream('book', series).some((m) => (m.data as Delta).levels?.some((l) => l.price === '8.00' && l.quantity === 0)),
    );
    const after = await t.clearing.get<Book>(`/v1/series/${series}/book?levels=100`);
    expect(rebuild(c.stream('book', series))).toEqual({ bids: levels(after.body.bids), asks: levels(after.body.asks) });
  });

  it('private orders: a member receives its own order events (placed, filled by another, cancelled) and none of another member', async () => {
    const series = await createSeries(t, product);
    const ca = await connect(t, a.key);
    const cb = await connect(t, b.key);
    await ca.subscribe('orders', series);
    await cb.subscribe('orders', series);

    const mine = await order(a, series, 'BUY', '7.00', 3);
    const theirs = await order(b, series, 'SELL', '7.00', 1);
    expect(theirs.body.trades).toHaveLength(1);
    await t.app.get(MarketStream).idle();
    await ca.waitFor(() => ca.stream('orders', series).length >= 3);
    await cb.waitFor(() => cb.stream('orders', series).length >= 2);
    const aEvents = ca.stream('orders', series).slice(1);
    const bEvents = cb.stream('orders', series).slice(1);
    expect(seqs(ca.stream('orders', series))).toEqual(range(aEvents.length + 1));
    expect(aEvents.map((m) => m.data)).toEqual([
      expect.objectContaining({ id: mine.body.id, memberId: a.id, status: 'OPEN', filledQuantity: 0 }),
      expect.objectContaining({ id: mine.body.id, memberId: a.id, status: 'PARTIALLY_FILLED', filledQuantity: 1 }),
    ]);
    expect(bEvents.map((m) => m.data)).toEqual([expect.objectContaining({ id: theirs.body.id, memberId: b.id, status: 'FILLED' })]);
    expect(JSON.stringify(ca.messages)).not.toContain(b.id);
    expect(JSON.stringify(cb.messages)).not.toContain(a.id);
  });

  it('the stream client (src/client/stream.ts, on ws): a member keeps a live book and sees its own order', async () => {
    const series = await createSeries(t, product);
    const stream = new TokenClearStream({ url: t.baseUrl, key: a.key, WebSocket: WebSocket as never });
    let book: LiveBook | undefined;
    const orders: ClientMessage[] = [];
    stream.subscribe('book', series, (m) => (book = applyBookMessage(book, m)));
    stream.subscribe('orders', series, (m) => orders.push(m));
    try {
      await expect.poll(() => book).toEqual({ bids: [], asks: [] });
      const placed = await order(a, series, 'BUY', '5.00', 2);
      await expect.poll(() => book).toEqual({ bids: [{ price: '5.00', quantity: 2 }], asks: [] });
      await expect.poll(() => orders.map((m) => (m.data as { id?: string }).id)).toContain(placed.body.id);
      expect(stream.gaps).toBe(0);
    } finally {
      stream.close();
    }
  });

  it('two API copies: an order placed over HTTP on copy A reaches a subscriber on copy B', async () => {
    const series = await createSeries(t, product);
    const onB = await connect(replica, a.key);
    await onB.subscribe('trades', series);
    await onB.subscribe('orders', series);
    await onB.subscribe('book', series);
    expect((await order(a, series, 'BUY', '6.00', 1)).status).toBe(201);
    const sold = await order(b, series, 'SELL', '6.00', 1);
    expect(await onB.next((m) => m.channel === 'trades' && m.type === 'event')).toMatchObject({
      seq: 2,
      data: { id: sold.body.trades[0].id, price: '6.00' },
    });
    expect(
      await onB.next((m) => m.channel === 'orders' && m.type === 'event' && (m.data as { status: string }).status === 'FILLED'),
    ).toMatchObject({
      data: { memberId: a.id },
    });
    expect(await onB.next((m) => m.channel === 'book' && m.type === 'delta')).toMatchObject({ seq: 2 });
  });
  it('a halt at lastTradingAt: EXPIRED on series, the cancelled order to its member, its level emptied', async () => {
    const series = await createSeries(t, product);
    const placed = await order(a, series, 'BUY', '3.00', 1);
    await t.app.get(MarketStream).idle(); // its own events are not what this test waits for
    const c = await connect(t, a.key);
    await c.subscribe('series', series);
    await c.subscribe('orders', series);
    await c.subscribe('book', series);
    const seriesId = (await t.app.get(MarketsRepository).seriesIdByCode(t.app.get(TransactionRunner).root, series))!;
    const clock = t.app.get(Clock);
    clock.set(new Date(Date.now() + 49 * 3_600_000));
    try {
      expect(await t.app.get(ListingsService).halt({ seriesId })).toEqual({ cancelled: 1 });
    } finally {
      clock.set(new Date());
    }
    expect(await c.next((m) => m.channel === 'series' && m.type === 'event')).toMatchObject({
      data: { kind: 'status', status: 'EXPIRED' },
    });
    expect(
      await c.next((m) => m.channel === 'orders' && m.type === 'event' && (m.data as { status: string }).status === 'CANCELLED'),
    ).toMatchObject({
      data: { id: placed.body.id, status: 'CANCELLED', cancelReason: 'SERIES_HALTED' },
    });
    expect(
      await c.next((m) => m.channel === 'book' && m.type === 'delta' && (m.data as Delta).levels.some((l) => l.quantity === 0)),
    ).toMatchObject({
      data: { levels: [{ side: 'BUY', price: '3.00', quantity: 0 }] },
    });
  });
});
