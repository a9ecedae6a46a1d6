import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../src/platform/time/clock.js';
import { type TestMember } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { order } from '../harness/market-factories.js';
import { threeTradersMarket, waitForRun, type RunView } from '../harness/settlement-helpers.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

// The end of day as the scheduler starts it: one DAILY run over every trading series, netted per
// member. Three members, two cash series of 10M-token contracts (multiplier 10), reference price
// 4.00, initial margin 12.34 % (so the rounding up of margin matters), no fees.
// Expected amounts are worked out by hand:
//   VM  = (netEnd × S_t − netStart × S_t−1 − Σ today signedQty × price) × 10
//   IM  = ⌈contracts × price × 10 × 1234 / 10,000⌉ per series
const at = (iso: string) => new Date(iso);
const DAY = '2026-12-01';

describe('a DAILY run over a set of series, netted per member', () => {
  let t: TestApp;
  let clock: Clock;
  let a: TestMember;
  let b: TestMember;
  let c: TestMember;
  const X = 'NETX-2612';
  const Y = 'NETY-2612';
  let run: RunView & { series: string | null; seriesCount: number };

  const accountFen = async (m: TestMember, type: 'margin' | 'cash') =>
    (await t.prisma.ledgerAccount.findUniqueOrThrow({ where: { code: `member:${m.id}:${type}` } })).balanceFen;
  const runTransfers = (runId: string) =>
    t.prisma.$queryRaw<{ member: string; kind: string; signed: bigint }[]>`
      SELECT COALESCE(c."memberId", d."memberId") AS member, t.kind,
             (CASE WHEN c."memberId" IS NOT NULL AND c.type = 'CASH' THEN t."amountFen" WHEN d.type = 'CASH' THEN -t."amountFen" ELSE t."amountFen" END)::bigint AS signed
      FROM transfers t JOIN ledger_accounts d ON d.id = t."debitAccountId" JOIN ledger_accounts c ON c.id = t."creditAccountId"
      WHERE t."settlementRunId" = ${runId}::uuid`;

  beforeAll(async () => {
    t = await startTestApp();
    ({ clock, a, b, c } = await threeTradersMarket(t, [X, Y], { initialMarginBp: 1_234 }));
    await order(a, X, 'SELL', '4.10', 3);
    await order(b, X, 'BUY', '4.10', 3); // 3 @ 4.10
    await order(c, X, 'SELL', '4.20', 2);
    await order(b, X, 'BUY', '4.20', 2); // 2 @ 4.20 → VWAP 4.14
    await order(b, Y, 'SELL', '3.80', 4);
    await order(a, Y, 'BUY', '3.80', 4); // 4 @ 3.80, but clearing fixes Y at 3.90
    expect((await t.clearing.post(`/v1/series/${Y}/settlement-price`, { price: '3.90', businessDate: DAY })).status).toBe(201);
    // Margin held at the reference price 4.00 before the run:
    //   a: X 3 → ⌈12000 × 0.1234⌉ = 1481, Y 4 → ⌈16000 × 0.1234⌉ = 1975 → 34.56
    //   b: X 5 → 20000 × 0.1234 = 2468,    Y 4 → 1975                    → 44.43
    //   c: X 2 → ⌈8000 × 0.1234⌉ = 988                                     →  9.88
    expect([await accountFen(a, 'margin'), await accountFen(b, 'margin'), await accountFen(c, 'margin')]).toEqual([3456n, 4443n, 988n]);
    clock.set(at('2026-12-01T07:30:00Z')); // 15:30: business date 12-02 has begun
  });
  afterAll(() => t.close());

  it('settles both series as one run: one VM and one margin transfer per member, amounts by hand', async () => {
    const started = await t.clearing.post<{ items: (RunView & { series: string | null; seriesCount: number })[] }>('/v1/settlement/runs', {
      type: 'DAILY',
      businessDate: DAY,
    });
    expect(started.status, started.text).toBe(201);
    expect(started.body.items).toHaveLength(1);
    expect(started.body.items[0]).toMatchObject({ series: null, seriesCount: 2, type: 'DAILY', businessDate: DAY });
    run = { ...started.body.items[0], ...(await waitForRun(t, started.body.items[0].id)) };
    expect(run.price).toBeNull(); // a set run has one price per series, stored as settlement prices
    const detail = await t.clearing.get<{ seriesCodes: string[]; progress: { processed: number; total: number } }>(
      `/v1/settlement/runs/${run.id}`,
    );
    expect(detail.body.seriesCodes).toEqual([X, Y]);
    expect(detail.body.progress.processed).toBe(detail.body.progress.total);

    const statement = await a.client.get<{
      settlementPrices: { series: string; price: string; method: string }[];
      variationMargin: { series: string; netStart: number; netEnd: number; previousPrice: string; price: string; amount: string }[];
      transfers: { kind: string; amount: string; creditAccount: string }[];
    }>(`/v1/members/${a.id}/statements/${DAY}`);
    expect(statement.body.settlementPrices).toEqual(
      expect.arrayContaining([
        { series: X, price: '4.14', method: 'VWAP' },
        { series: Y, price: '3.90', method: 'FIXED' },
      ]),
    );
    // The statement breaks a's one netted VM transfer (+2.80) down by series.
    expect(statement.body.variationMargin).toEqual([
      { series: X, netStart: 0, netEnd: -3, previousPrice: '4.00', price: '4.14', amount: '-1.20' },
      { series: Y, netStart: 0, netEnd: 4, previousPrice: '4.00', price: '3.90', amount: '4.00' },
    ]);
    expect(statement.body.transfers.filter((x) => x.kind === 'VARIATION_MARGIN').map((x) => [x.amount, x.creditAccount])).toEqual([
      ['2.80', `member:${a.id}:cash`],
    ]);

    // VM:  X (S 4.14, S−1 4.00): a (−3×414 + 1230)×10 = −120; b (5×414 − 2070)×10 = 0; c (−2×414 + 840)×10 = +120
    //      Y (S 3.90):           a (4×390 − 4×380)×10 = +400; b −400
    //      per member:           a +280, b −400, c +120 (sums to zero)
    const rows = await runTransfers(run.id);
    const vm = (m: TestMember) => rows.filter((r) => r.member === m.id && r.kind === 'VARIATION_MARGIN');
    expect(vm(a).map((r) => r.signed)).toEqual([280n]);
    expect(vm(b).map((r) => r.signed)).toEqual([-400n]);
    expect(vm(c).map((r) => r.signed)).toEqual([120n]);
    // IM re-struck at 4.14 / 3.90:
    //   a: X ⌈12420 × 0.1234⌉ = 1533, Y ⌈15600 × 0.1234⌉ = 1926 → 34.59 (+3)
    //   b: X ⌈20700 × 0.1234⌉ = 2555, Y 1926                   → 44.81 (+38)
    //   c: X ⌈8280 × 0.1234⌉ = 1022                             → 10.22 (+34)
    expect([await accountFen(a, 'margin'), await accountFen(b, 'margin'), await accountFen(c, 'margin')]).toEqual([3459n, 4481n, 1022n]);
    for (const m of [a, b, c]) expect(rows.filter((r) => r.member === m.id && r.kind.startsWith('MARGIN_'))).toHaveLength(1);
    expect(run.transferCount).toBe(6);
    // The positions view (margin computed in TypeScript) agrees with what the run moved in SQL.
    const pos = await t.clearing.get<{ items: { series: string; memberId: string; marginHeld: string }[] }>('/v1/positions');
    const held = (m: TestMember) =>
      pos.body.items
        .filter((p) => p.memberId === m.id)
        .map((p) => `${p.series}:${p.marginHeld}`)
        .sort();
    expect(held(a)).toEqual([`${X}:15.33`, `${Y}:19.26`]);
    expect(held(b)).toEqual([`${X}:25.55`, `${Y}:19.26`]);
    expect(held(c)).toEqual([`${X}:10.22`]);
    await expectLedgerConsistent(t.prisma);
  });

  it('keeps one run per series and date: a per-series start and a second start return the same run', async () => {
    const single = await t.clearing.post<{ id: string; series: string | null; seriesCount: number }>('/v1/settlement/runs', {
      type: 'DAILY',
      series: X,
      businessDate: DAY,
    });
    expect(single.status).toBe(201);
    expect(single.body.id).toBe(run.id);
    expect(single.body).toMatchObject({ series: null, seriesCount: 2 }); // shown as the set run it is, not as X

    const again = await t.clearing.post<{ items: { id: string }[] }>('/v1/settlement/runs', { type: 'DAILY', businessDate: DAY });
    expect(again.body.items.map((r) => r.id)).toEqual([run.id]);
    const before = await t.prisma.transfer.count();
    const { SettlementRunHandler } = await import('../../src/settlement/settlement-run.handler.js');
    expect(await t.app.get(SettlementRunHandler).execute({ runId: run.id })).toEqual({ status: 'COMPLETED', checksum: run.checksum });
    expect(await t.prisma.transfer.count()).toBe(before);
    expect((await t.clearing.post(`/v1/series/${X}/settlement-price`, { price: '4.00', businessDate: DAY })).status).toBe(409);
  });

  it('after the re-pricing, trading moves margin at the new price, and the ledger holds exactly the recomputed margin', async () => {
    await order(c, X, 'SELL', '4.14', 1);
    await order(a, X, 'BUY', '4.14', 1); // a: short 3 → 2; c: short 2 → 3
    // a: X ⌈8280 × 0.1234⌉ = 1022 + Y 1926 = 29.48; c: X ⌈12420 × 0.1234⌉ = 1533 = 15.33
    expect(await accountFen(a, 'margin')).toBe(2948n);
    expect(await accountFen(c, 'margin')).toBe(1533n);
    await expectLedgerConsistent(t.prisma);
  });

  it('mixes with a per-series run of the next date: the set run covers only the series left', async () => {
    clock.set(at('2026-12-02T07:30:00Z'));
    const x = await t.clearing.post<{ id: string; series: string }>('/v1/settlement/runs', {
      type: 'DAILY',
      series: X,
      businessDate: '2026-12-02',
    });
    expect(x.body.series).toBe(X);
    const all = await t.clearing.post<{ items: { id: string; series: string | null; seriesCount: number }[] }>('/v1/settlement/runs', {
      type: 'DAILY',
      businessDate: '2026-12-02',
    });
    expect(all.body.items.map((r) => [r.series, r.seriesCount])).toEqual([
      [X, 1],
      [Y, 1],
    ]);
    expect(all.body.items[0].id).toBe(x.body.id);
    for (const r of all.body.items) await waitForRun(t, r.id);
    // No trades in the window and no quotes: both keep their price, so no VM; a's 4.14 buy was
    // marked at 4.14, so its VM is (−2×414 + 3×414 − 414)×10 = 0 as well.
    const rows = await t.prisma.transfer.count({ where: { settlementRunId: { in: all.body.items.map((r) => r.id) } } });
    expect(rows).toBe(0);
    await expectLedgerConsistent(t.prisma);
  });
});
