import type { Histogram } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/platform/metrics/metrics.js';
import { Clock } from '../../src/platform/time/clock.js';
import { createMember, type TestMember } from '../harness/factories.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { settle } from '../harness/settlement-helpers.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';
import { expectRestingConsistent } from '../harness/market-checks.js';

// 10M-token contracts at 4.00 (multiplier 10), initial margin 10 %: one contract's outright
// margin is 400 × 10 × 10 % = 400 fen.
const SERIES_DATES = { lastTradingAt: '2026-12-20T07:00:00Z', deliveryStart: '2026-12-21T00:00:00Z', deliveryEnd: '2026-12-31T00:00:00Z' };

describe('portfolio initial margin over HTTP (hand-computed, fen)', () => {
  let t: TestApp;
  let clock: Clock;
  const balances = async (m: TestMember) => (await m.client.get<{ cash: string; margin: string }>(`/v1/members/${m.id}/balances`)).body;

  beforeAll(async () => {
    t = await startTestApp();
    clock = t.app.get(Clock);
    clock.set(new Date('2026-12-01T03:00:00Z'));
  });
  afterAll(() => t.close());

  it('an outright holds exactly the old figure; a calendar spread holds the spread charge, less than the two outrights', async () => {
    const product = await createProduct(t, { feePerContractFen: 0, spreadChargeBp: 200 });
    const near = await createSeries(t, product, SERIES_DATES);
    const far = await createSeries(t, product, {
      ...SERIES_DATES,
      lastTradingAt: '2026-12-27T07:00:00Z',
      deliveryStart: '2026-12-28T00:00:00Z',
      deliveryEnd: '2027-01-05T00:00:00Z',
    });
    const [x, y, z] = [await createMember(t, 'TRADER'), await createMember(t, 'TRADER'), await createMember(t, 'TRADER')];
    for (const m of [x, y, z]) await fund(t, m, '1000.00');

    expect((await order(y, near, 'SELL', '4.00', 10)).status).toBe(201);
    expect((await order(x, near, 'BUY', '4.00', 10)).status).toBe(201);
    // Outright: 10 × 400 × 10 × 10 % = 4000 fen.
    expect(await balances(x)).toEqual(expect.objectContaining({ margin: '40.00', cash: '960.00' }));

    expect((await order(z, far, 'BUY', '4.00', 10)).status).toBe(201);
    const sell = await order(x, far, 'SELL', '4.00', 10);
    expect(sell.status, sell.text).toBe(201);
    // Long 10 near, short 10 far: prices up or down, the legs offset; 10 offset contracts pay
    // 10 × 400 × 10 × 2 % = 800 fen instead of the two outrights' 8000.
    expect(await balances(x)).toEqual(expect.objectContaining({ margin: '8.00', cash: '992.00' }));
    // The counterparties hold one outright each.
    expect((await balances(y)).margin).toBe('40.00');
    expect((await balances(z)).margin).toBe('40.00');

    // The statement shows the components.
    const statement = await x.client.get<{ initialMargin: { total: string; products: Record<string, string>[] } }>(
      `/v1/members/${x.id}/statements/2026-12-01`,
    );
    expect(statement.status, statement.text).toBe(200);
    expect(statement.body.initialMargin).toEqual({
      total: '8.00',
      maintenance: '6.00',
      products: [
        {
          product,
          outright: '80.00',
          scenario: '8.00',
          spreadCharge: '8.00',
          spreadCredit: '72.00',
          concentrationAddOn: '0.00',
          initialMargin: '8.00',
          maintenance: '6.00',
        },
      ],
    });

    // Unwinding one leg brings the other back to its outright.
    expect((await order(y, near, 'BUY', '4.00', 10)).status).toBe(201);
    expect((await order(x, near, 'SELL', '4.00', 10)).status).toBe(201);
    expect(await balances(x)).toEqual(expect.objectContaining({ margin: '40.00', cash: '960.00' }));

    // X is short 10 far now. A resting buy of 10 near offsets it whichever way prices move: the
    // portfolio needs nothing more than the short's 40.00 (outrights would say 80.00).
    const resting = await order(x, near, 'BUY', '3.50', 10);
    expect(resting.status, resting.text).toBe(201);
    expect(await balances(x)).toEqual(expect.objectContaining({ margin: '40.00', cash: '960.00' }));
    // Cancelling it (outside the order batch) moves the outright and the adjustment together.
    expect((await x.client.delete(`/v1/orders/${resting.body.id}`)).status).toBe(200);
    expect(await balances(x)).toEqual(expect.objectContaining({ margin: '40.00', cash: '960.00' }));
  });

  it('a concentrated position pays the add-on on the part above the threshold of open interest', async () => {
    const product = await createProduct(t, { feePerContractFen: 0, concentrationThresholdBp: 2_000, concentrationAddOnBp: 500 });
    const series = await createSeries(t, product, SERIES_DATES);
    const [x, y] = [await createMember(t, 'TRADER'), await createMember(t, 'TRADER')];
    for (const m of [x, y]) await fund(t, m, '1000.00');
    expect((await order(y, series, 'SELL', '4.00', 30)).status).toBe(201);
    expect((await order(x, series, 'BUY', '4.00', 30)).status).toBe(201);
    // Pre-trade, open interest is what it was before the order (0): all 30 contracts are above it.
    // Outright 30 × 400 × 10 × 10 % = 12000; add-on 30 × 400 × 10 × 5 % = 6000.
    expect((await balances(x)).margin).toBe('180.00');

    // The daily run recomputes at open interest 30: threshold ⌊30 × 20 %⌋ = 6, 24 contracts above it:
    // add-on 24 × 400 × 10 × 5 % = 4800; IM 12000 + 4800 = 16800.
    await t.clearing.post(`/v1/series/${series}/settlement-price`, { price: '4.00', businessDate: '2026-12-01' });
    clock.set(new Date('2026-12-01T07:30:00Z'));
    await settle(t, { type: 'DAILY', series, businessDate: '2026-12-01' });
    expect(await balances(x)).toEqual(expect.objectContaining({ margin: '168.00', cash: '832.00' }));
    expect(await balances(y)).toEqual(expect.objectContaining({ margin: '168.00', cash: '832.00' }));
    clock.set(new Date('2026-12-01T03:00:00Z'));
  });

  it("times each batch's pre-trade step, labelled by whether the batch's product has portfolio margin (bench:orders reads it)", async () => {
    const batches = async (portfolio: string) =>
      (await (t.app.get(Metrics).registry.getSingleMetric('order_batch_pretrade_seconds') as Histogram<'portfolio'>).get()).values.find(
        (v) => v.metricName === 'order_batch_pretrade_seconds_count' && v.labels.portfolio === portfolio,
      )?.value ?? 0;
    const [on, off] = [await batches('on'), await batches('off')];
    const spread = await createSeries(t, await createProduct(t, { spreadChargeBp: 200 }), SERIES_DATES);
    const plain = await createSeries(t, await createProduct(t), SERIES_DATES);
    const x = await createMember(t, 'TRADER');
    await fund(t, x, '1000.00');
    expect((await order(x, spread, 'BUY', '3.90', 1)).status).toBe(201);
    expect((await order(x, plain, 'BUY', '3.90', 1)).status).toBe(201);
    expect([(await batches('on')) - on, (await batches('off')) - off]).toEqual([1, 1]);
  });

  it('resting quantities kept for the risk checks equal the live orders', async () => {
    await expectRestingConsistent(t.prisma);
  });
});
