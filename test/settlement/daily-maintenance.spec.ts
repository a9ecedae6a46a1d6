import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../src/platform/time/clock.js';
import { createMember, type TestMember } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { settle, waitForRun } from '../harness/settlement-helpers.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

// The daily run's maintenance check (SPEC 6.3), worked out by hand. Products of 10M-token
// contracts (multiplier 10), reference price 4.00, IM 10 %, maintenance 7.5 % (¾ of IM), no fees.
// Equity = cash + margin + P&L not yet settled at the margin prices; a member whose cash is
// negative after the run gets a VARIATION call instead.
//   outright IM = ⌈contracts × price × 10 × 1000 / 10,000⌉; maintenance = ⌈IM × 750 / 1000⌉ per product
const DAY = '2026-12-01';
const DAY2 = '2026-12-02';
const DATES = { lastTradingAt: '2026-12-20T07:00:00Z', deliveryStart: '2026-12-21T00:00:00Z', deliveryEnd: '2026-12-31T00:00:00Z' };

type CallRow = { type: string; status: string; amount: string };

describe('the daily run opens MAINTENANCE calls on equity, at the new margin prices', () => {
  let t: TestApp;
  let clock: Clock;
  let x: TestMember;
  let v: TestMember;
  let y: TestMember;
  let X1: string;
  let X2: string;
  let Q1: string;
  let Q2: string;

  const calls = async (m: TestMember) => (await m.client.get<{ items: CallRow[] }>('/v1/margin-calls')).body.items;
  const balances = async (m: TestMember) => (await m.client.get<{ cash: string; margin: string }>(`/v1/members/${m.id}/balances`)).body;
  const fix = async (series: string, price: string, businessDate: string) =>
    expect((await t.clearing.post(`/v1/series/${series}/settlement-price`, { price, businessDate })).status).toBe(201);

  beforeAll(async () => {
    t = await startTestApp();
    clock = t.app.get(Clock);
    clock.set(new Date('2026-12-01T06:40:00Z')); // 14:40 Shanghai, business date 12-01
    [x, v, y] = [await createMember(t, 'TRADER'), await createMember(t, 'TRADER'), await createMember(t, 'TRADER')];
    await fund(t, x, '92.00');
    await fund(t, v, '45.00');
    await fund(t, y, '5000.00');
    const p = await createProduct(t, { feePerContractFen: 0 });
    // Q margins a calendar spread as one portfolio: spread charge 2 % of the dearer leg per offset contract.
    const q = await createProduct(t, { feePerContractFen: 0, spreadChargeBp: 200 });
    [X1, X2, Q1, Q2] = [
      await createSeries(t, p, DATES),
      await createSeries(t, p, DATES),
      await createSeries(t, q, DATES),
      await createSeries(t, q, DATES),
    ];
  });
  afterAll(() => t.close());

  it('cash still positive, equity under maintenance (resting order, portfolio spread, a trade after the cutoff): one MAINTENANCE call', async () => {
    expect((await order(y, X1, 'SELL', '4.00', 10)).status).toBe(201);
    expect((await order(x, X1, 'BUY', '4.00', 10)).status).toBe(201);
    // A resting buy adds to the long worst case: 11 contracts × 400 × 10 × 10 % = 44.00.
    expect((await order(x, X1, 'BUY', '3.00', 1)).status).toBe(201);
    // The spread: long 10 Q1, short 10 Q2. Both moves cost 10 offset × 400 × 10 × 2 % = 8.00 (< 80.00 of outrights).
    expect((await order(y, Q1, 'SELL', '4.00', 10)).status).toBe(201);
    expect((await order(x, Q1, 'BUY', '4.00', 10)).status).toBe(201);
    expect((await order(y, Q2, 'BUY', '4.00', 10)).status).toBe(201);
    expect((await order(x, Q2, 'SELL', '4.00', 10)).status).toBe(201);
    expect(await balances(x)).toMatchObject({ margin: '52.00', cash: '40.00' });
    // v: long 10 X1 at 4.00 (IM 40.00), 5.00 of cash left; the run's VM takes more than that.
    expect((await order(y, X1, 'SELL', '4.00', 10)).status).toBe(201);
    expect((await order(v, X1, 'BUY', '4.00', 10)).status).toBe(201);

    await fix(X1, '3.90', DAY);
    await fix(X2, '4.00', DAY);
    await fix(Q1, '3.80', DAY);
    await fix(Q2, '4.00', DAY);
    clock.set(new Date('2026-12-01T07:30:00Z')); // 15:30: business date 12-02 has begun; trading goes on
    // After the cutoff x buys 2 X2 at 5.00 (IM at the margin price 4.00: 8.00): a loss of
    // 2 × (400 − 500) × 10 = −20.00 not yet settled, which no run of 12-01 settles.
    expect((await order(y, X2, 'SELL', '5.00', 2)).status).toBe(201);
    expect((await order(x, X2, 'BUY', '5.00', 2)).status).toBe(201);
    expect(await balances(x)).toMatchObject({ margin: '60.00', cash: '32.00' });

    const started = await t.clearing.post<{ items: { id: string; seriesCount: number }[] }>('/v1/settlement/runs', {
      type: 'DAILY',
      businessDate: DAY,
    });
    expect(started.status, started.text).toBe(201);
    expect(started.body.items.map((r) => r.seriesCount)).toEqual([4]);
    await waitForRun(t, started.body.items[0].id);

    // x: VM X1 10 × (390 − 400) × 10 = −10.00, Q1 10 × (380 − 400) × 10 = −20.00 → −30.00.
    //    IM X1 11 × 390 × 10 × 10 % = 42.90; X2 8.00 (its price did not move); Q at 3.80 / 4.00:
    //    up-move loss −10 × 3800 + 10 × 4000 = 2000 fen-bp¹ → 2.00, plus 10 × 400 × 10 × 2 % = 8.00 → 10.00.
    //    Margin 42.90 + 8.00 + 10.00 = 60.90 (+0.90); cash 32.00 − 30.00 − 0.90 = 1.10.
    //    Equity 1.10 + 60.90 − 20.00 = 42.00; maintenance ⌈5090 × ¾⌉ + ⌈1000 × ¾⌉ = 3818 + 750 = 45.68 → call 3.68.
    //    (¹ numerators in fen × 10,000 ÷ 10,000 at the 10 % move.)
    expect(await balances(x)).toMatchObject({ margin: '60.90', cash: '1.10' });
    expect(await calls(x)).toEqual([expect.objectContaining({ type: 'MAINTENANCE', status: 'OPEN', amount: '3.68' })]);
    // v: VM −10.00, IM 39.00 (release 1.00): cash 5.00 − 10.00 + 1.00 = −4.00 → a VARIATION call only.
    expect(await balances(v)).toMatchObject({ margin: '39.00', cash: '-4.00' });
    expect(await calls(v)).toEqual([expect.objectContaining({ type: 'VARIATION', status: 'OPEN', amount: '4.00' })]);
    // y: the other side of everything, well funded: no call.
    expect(await calls(y)).toEqual([]);
    // The run starts the check from the margin it struck: that is the worst case's only if every
    // position's margined contracts are its worst case over its resting orders.
    const drift = await t.prisma.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM positions p LEFT JOIN resting_quantities r ON r."memberId" = p."memberId" AND r."seriesId" = p."seriesId"
      WHERE p."marginQty" <> greatest(0, p."longQty" - p."shortQty" + COALESCE(r."buyQty", 0), COALESCE(r."sellQty", 0) - (p."longQty" - p."shortQty"))`;
    expect(drift[0].n).toBe(0n);
    await expectLedgerConsistent(t.prisma);
  });

  it('a run over some series only checks maintenance over every series the member holds', async () => {
    const r = await createProduct(t, { feePerContractFen: 0 });
    const [R1, R2] = [await createSeries(t, r, DATES), await createSeries(t, r, DATES)];
    const w = await createMember(t, 'TRADER');
    await fund(t, w, '60.00');
    expect((await order(y, R1, 'SELL', '4.00', 10)).status).toBe(201);
    expect((await order(w, R1, 'BUY', '4.00', 10)).status).toBe(201);
    expect((await order(y, R2, 'SELL', '5.00', 2)).status).toBe(201);
    expect((await order(w, R2, 'BUY', '5.00', 2)).status).toBe(201);
    expect(await balances(w)).toMatchObject({ margin: '48.00', cash: '12.00' });
    await fix(R1, '3.90', DAY2);
    clock.set(new Date('2026-12-02T07:30:00Z'));
    await settle(t, { type: 'DAILY', series: R1, businessDate: DAY2 });
    // VM R1 −10.00; IM R1 39.00 (release 1.00), R2 8.00 at its reference price: margin 47.00, cash 3.00.
    // R2 was never settled: 2 × (400 − 500) × 10 = −20.00 unsettled. Equity 3.00 + 47.00 − 20.00 = 30.00;
    // maintenance ⌈4700 × ¾⌉ = 35.25 → call 5.25.
    expect(await balances(w)).toMatchObject({ margin: '47.00', cash: '3.00' });
    expect(await calls(w)).toEqual([expect.objectContaining({ type: 'MAINTENANCE', status: 'OPEN', amount: '5.25' })]);
    await expectLedgerConsistent(t.prisma);
  });
});

describe('the daily check is not dodged by closing out a losing position after the cutoff', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('a loss realised in a series nobody holds any more, after the cutoff, still counts in equity', async () => {
    const clock = t.app.get(Clock);
    clock.set(new Date('2026-12-01T06:40:00Z'));
    const [u, y] = [await createMember(t, 'TRADER'), await createMember(t, 'TRADER')];
    await fund(t, u, '50.00');
    await fund(t, y, '5000.00');
    const p = await createProduct(t, { feePerContractFen: 0 });
    const [A, B] = [await createSeries(t, p, DATES), await createSeries(t, p, DATES)];
    expect((await order(y, A, 'SELL', '4.00', 10)).status).toBe(201);
    expect((await order(u, A, 'BUY', '4.00', 10)).status).toBe(201); // IM 40.00, cash 10.00
    for (const [series, price] of [
      [A, '3.90'],
      [B, '4.00'],
    ])
      expect((await t.clearing.post(`/v1/series/${series}/settlement-price`, { price, businessDate: DAY })).status).toBe(201);
    clock.set(new Date('2026-12-01T07:30:00Z')); // business date 12-02
    // In and out of B at a loss of 2 × (400 − 500) × 10 = −20.00: both sides flat there, so no
    // one holds margin in B, and the run of 12-01 does not settle trades of 12-02.
    expect((await order(y, B, 'SELL', '5.00', 2)).status).toBe(201);
    expect((await order(u, B, 'BUY', '5.00', 2)).status).toBe(201);
    expect((await order(y, B, 'BUY', '4.00', 2)).status).toBe(201);
    expect((await order(u, B, 'SELL', '4.00', 2)).status).toBe(201);
    const started = await t.clearing.post<{ items: { id: string }[] }>('/v1/settlement/runs', { type: 'DAILY', businessDate: DAY });
    expect(started.status, started.text).toBe(201);
    await waitForRun(t, started.body.items[0].id);
    // VM A −10.00, IM 39.00 (release 1.00): cash 1.00. Equity 1.00 + 39.00 − 20.00 = 20.00 against
    // maintenance ⌈3900 × ¾⌉ = 29.25: a MAINTENANCE call of 9.25 (cash is not negative).
    expect((await u.client.get(`/v1/members/${u.id}/balances`)).body).toMatchObject({ margin: '39.00', cash: '1.00' });
    const calls = (await u.client.get<{ items: CallRow[] }>('/v1/margin-calls')).body.items;
    expect(calls).toEqual([expect.objectContaining({ type: 'MAINTENANCE', status: 'OPEN', amount: '9.25' })]);
    await expectLedgerConsistent(t.prisma);
  });
});
