import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../src/platform/time/clock.js';
import { createMember, expectProblem, type TestMember } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { waitForRun } from '../harness/settlement-helpers.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';
import { expectRestingConsistent } from '../harness/market-checks.js';

describe('cash final settlement (EXPIRY run of a CASH series)', () => {
  let t: TestApp;
  let clock: Clock;
  let a: TestMember;
  let b: TestMember;
  const S = 'CASHX-2612';

  beforeAll(async () => {
    t = await startTestApp();
    clock = t.app.get(Clock);
    clock.set(new Date('2026-12-01T02:00:00Z'));
    [a, b] = [await createMember(t, 'TRADER'), await createMember(t, 'TRADER')];
    await fund(t, a, '100.00');
    await fund(t, b, '100.00');
    const product = await createProduct(t, { feePerContractFen: 0 });
    await createSeries(t, product, {
      code: S,
      lastTradingAt: '2026-12-02T06:00:00Z',
      deliveryStart: '2026-12-02T06:00:00Z',
      deliveryEnd: '2026-12-03T06:00:00Z',
    });
  });
  afterAll(() => t.close());

  it('pays the final VM at the index fixing, releases all margin and settles the series', async () => {
    await order(a, S, 'SELL', '4.00', 2);
    await order(b, S, 'BUY', '4.00', 2); // B long 2 @ 4.00, A short 2; IM 8.00 each
    await order(a, S, 'SELL', '4.50', 1); // still resting at expiry
    expect((await b.client.get(`/v1/members/${b.id}/balances`)).body).toMatchObject({ cash: '92.00', margin: '8.00' });

    expectProblem(await t.clearing.post('/v1/settlement/runs', { type: 'EXPIRY', series: S }), 409, 'SERIES_NOT_EXPIRED');
    clock.set(new Date('2026-12-02T06:30:00Z')); // after last trading (14:30 Shanghai, business date 12-02)
    expectProblem(await t.clearing.post('/v1/settlement/runs', { type: 'EXPIRY', series: S }), 409, 'INDEX_FIXING_MISSING');
    const fixing = await t.clearing.post(`/v1/series/${S}/index-fixings`, {
      price: '4.12',
      source: 'inference price index, 70B class',
      asOf: '2026-12-02T14:00:00+08:00',
    });
    expect(fixing.status, fixing.text).toBe(201);
    expectProblem(
      await a.client.post(`/v1/series/${S}/index-fixings`, { price: '4.12', source: 'x', asOf: '2026-12-02T14:00:00+08:00' }),
      403,
      'FORBIDDEN_ROLE',
    );

    const run = await t.clearing.post<{ id: string; businessDate: string }>('/v1/settlement/runs', { type: 'EXPIRY', series: S });
    expect(run.body.businessDate).toBe('2026-12-02');
    const done = await waitForRun(t, run.body.id);
    expect(done.price).toBe('4.12');
    // Bought 2 at 4.00, final 4.12: B +(2 × 12 × 10) = +2.40, A −2.40; every fen of margin back in cash.
    expect((await b.client.get(`/v1/members/${b.id}/balances`)).body).toMatchObject({ cash: '102.40', margin: '0.00' });
    expect((await a.client.get(`/v1/members/${a.id}/balances`)).body).toMatchObject({ cash: '97.60', margin: '0.00' });
    expect((await t.clearing.get(`/v1/series/${S}`)).body).toMatchObject({ status: 'SETTLED', lastSettlementPrice: '4.12' });
    expect(await t.prisma.order.count({ where: { status: { in: ['OPEN', 'PARTIALLY_FILLED'] } } })).toBe(0);
    await expectLedgerConsistent(t.prisma);
  });

  it('resting quantities kept for the risk checks equal the live orders', async () => {
    await expectRestingConsistent(t.prisma);
  });
});
