import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../src/platform/time/clock.js';
import { SettlementStream } from '../../src/settlement/settlement-stream.service.js';
import { createMember } from '../harness/factories.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { settle } from '../harness/settlement-helpers.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';
import { StreamClient } from './stream-client.js';

// Settlement publishes once a run has committed: the series' settlement price to everyone, the
// margin call it opened to its member (and clearing) only.

describe('streams: settlement publishes after its run commits', () => {
  let t: TestApp;
  const clients: StreamClient[] = [];
  beforeAll(async () => {
    t = await startTestApp();
    t.app.get(Clock).set(new Date('2026-12-01T03:00:00Z'));
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await t?.close();
  });

  it('a DAILY run: a settlement-price event on series, and the margin call for its member only', async () => {
    const d = await createMember(t, 'TRADER');
    const e = await createMember(t, 'TRADER');
    await fund(t, d, '4.10');
    await fund(t, e, '100.00');
    const product = await createProduct(t, { feePerContractFen: 0 });
    await createSeries(t, product, {
      code: 'SS-1',
      lastTradingAt: '2026-12-20T07:00:00Z',
      deliveryStart: '2026-12-21T00:00:00Z',
      deliveryEnd: '2026-12-31T00:00:00Z',
    });
    await order(e, 'SS-1', 'SELL', '4.00', 1);
    await order(d, 'SS-1', 'BUY', '4.00', 1);
    const pub = await StreamClient.connect(t);
    const dc = await StreamClient.connect(t, { key: d.key });
    const ec = await StreamClient.connect(t, { key: e.key });
    clients.push(pub, dc, ec);
    await pub.subscribe('series', 'SS-1');
    await dc.subscribe('margin-calls');
    await ec.subscribe('margin-calls');

    // Clearing's fixing is on the series channel at once; the run repeats it as the run's price.
    expect((await t.clearing.post('/v1/series/SS-1/settlement-price', { price: '3.50', businessDate: '2026-12-01' })).status).toBe(201);
    expect(await pub.next((m) => m.type === 'event')).toMatchObject({
      seq: 2,
      data: { kind: 'settlement-price', businessDate: '2026-12-01', price: '3.50', method: 'FIXED' },
    });

    t.app.get(Clock).set(new Date('2026-12-01T07:30:00Z'));
    await settle(t, { type: 'DAILY', series: 'SS-1', businessDate: '2026-12-01' });
    await t.app.get(SettlementStream).idle();

    expect(await pub.next((m) => m.type === 'event' && m.seq === 3)).toMatchObject({
      channel: 'series',
      series: 'SS-1',
      data: { kind: 'settlement-price', businessDate: '2026-12-01', price: '3.50', currency: 'CNY', final: false },
    });
    expect(await dc.next((m) => m.type === 'event')).toMatchObject({
      channel: 'margin-calls',
      seq: 2,
      data: { memberId: d.id, amount: '4.40', status: 'OPEN', businessDate: '2026-12-01' },
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(ec.messages.filter((m) => m.type === 'event')).toEqual([]);

    // A deposit that covers the call closes it in the worker; the member sees it CLOSED.
    await fund(t, d, '10.00');
    expect(await dc.next((m) => m.type === 'event' && m.seq === 3, 15_000)).toMatchObject({
      channel: 'margin-calls',
      data: { memberId: d.id, status: 'CLOSED' },
    });
    expect(ec.messages.filter((m) => m.type === 'event')).toEqual([]);
  });
});
