import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../src/platform/time/clock.js';
import { expectProblem, type TestMember } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { order } from '../harness/market-factories.js';
import { settle, threeTradersMarket } from '../harness/settlement-helpers.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

// Three members, two cash-settled series, three business days (Asia/Shanghai, cut-off 15:00).
// Contracts of 10M tokens (multiplier 10), reference price 4.00, IM 10 %, no fees.
// Every expected amount below is worked out by hand from
//   VM = (netEnd × S_t − netStart × S_t−1 − Σ today signedQty × price) × 10
const at = (iso: string) => new Date(iso);

describe('daily settlement: a hand-computed three-day scenario', () => {
  let t: TestApp;
  let clock: Clock;
  let a: TestMember;
  let b: TestMember;
  let c: TestMember;
  const X = 'SETX-2612';
  const Y = 'SETY-2612';

  const runDaily = (series: string, businessDate: string) => settle(t, { type: 'DAILY', series, businessDate });
  const vmOf = async (runId: string) => {
    const rows = await t.prisma.$queryRaw<{ member: string; vm: bigint }[]>`
      SELECT COALESCE(c."memberId", d."memberId") AS member,
             sum(CASE WHEN c."memberId" IS NOT NULL THEN t."amountFen" ELSE -t."amountFen" END)::bigint AS vm
      FROM transfers t JOIN ledger_accounts d ON d.id = t."debitAccountId" JOIN ledger_accounts c ON c.id = t."creditAccountId"
      WHERE t."settlementRunId" = ${runId}::uuid AND t.kind = 'VARIATION_MARGIN' GROUP BY 1`;
    const byMember = Object.fromEntries(rows.map((r) => [r.member, r.vm]));
    return { a: byMember[a.id] ?? 0n, b: byMember[b.id] ?? 0n, c: byMember[c.id] ?? 0n };
  };

  beforeAll(async () => {
    t = await startTestApp();
    ({ clock, a, b, c } = await threeTradersMarket(t, [X, Y]));
  });
  afterAll(() => t.close());

  it('day 1 (VWAP): X settles at 4.14, Y at 3.80; VM per member exact and summing to zero', async () => {
    await order(a, X, 'SELL', '4.10', 3);
    await order(b, X, 'BUY', '4.10', 3); // 3 @ 4.10
    await order(c, X, 'SELL', '4.20', 2);
    await order(b, X, 'BUY', '4.20', 2); // 2 @ 4.20 → VWAP (1230 + 840) / 5 = 414
    await order(b, Y, 'SELL', '3.80', 4);
    await order(a, Y, 'BUY', '3.80', 4); // 4 @ 3.80
    clock.set(at('2026-12-01T07:30:00Z')); // 15:30: business date 12-02 has begun
    expectProblem(
      await t.clearing.post('/v1/settlement/runs', { type: 'DAILY', series: X, businessDate: '2026-12-02' }),
      409,
      'BUSINESS_DAY_NOT_ENDED',
    );

    const x1 = await runDaily(X, '2026-12-01');
    expect(x1.price).toBe('4.14');
    // A: (−3×414 + 1230)×10 = −120; B: (5×414 − 2070)×10 = 0; C: (−2×414 + 840)×10 = +120
    expect(await vmOf(x1.id)).toEqual({ a: -120n, b: 0n, c: 120n });
    const y1 = await runDaily(Y, '2026-12-01');
    expect(y1.price).toBe('3.80');
    expect(await vmOf(y1.id)).toEqual({ a: 0n, b: 0n, c: 0n });
    // Initial margin re-struck at 4.14: B long 5 → 5 × 414 × 10 × 10 % = 20.70
    const pos = await t.clearing.get<{ items: { memberId: string; marginHeld: string }[] }>(`/v1/positions?series=${X}`);
    expect(pos.body.items.find((p) => p.memberId === b.id)?.marginHeld).toBe('20.70');
    await expectLedgerConsistent(t.prisma);
  });

  it('day 2: X without trades settles at the mid (4.15); Y at the price fixed by clearing (3.70)', async () => {
    clock.set(at('2026-12-02T06:40:00Z'));
    await order(a, X, 'BUY', '4.00', 1);
    await order(c, X, 'SELL', '4.30', 1); // no trade; mid (400 + 430) / 2 = 415
    const fixed = await t.clearing.post(`/v1/series/${Y}/settlement-price`, { price: '3.70', businessDate: '2026-12-02' });
    expect(fixed.status, fixed.text).toBe(201);
    await order(a, Y, 'SELL', '3.75', 1);
    await order(b, Y, 'BUY', '3.75', 1); // trades at 3.75, but the fixed price wins
    clock.set(at('2026-12-02T07:30:00Z'));

    const x2 = await runDaily(X, '2026-12-02');
    expect(x2.price).toBe('4.15');
    // A: (−3×415 + 3×414)×10 = −30; B: (5×415 − 5×414)×10 = +50; C: (−2×415 + 2×414)×10 = −20
    expect(await vmOf(x2.id)).toEqual({ a: -30n, b: 50n, c: -20n });
    const y2 = await runDaily(Y, '2026-12-02');
    expect(y2.price).toBe('3.70');
    // A: (3×370 − 4×380 + 375)×10 = −350; B: (−3×370 + 4×380 − 375)×10 = +350
    expect(await vmOf(y2.id)).toEqual({ a: -350n, b: 350n, c: 0n });
    expectProblem(
      await t.clearing.post(`/v1/series/${Y}/settlement-price`, { price: '3.60', businessDate: '2026-12-02' }),
      409,
      'SETTLEMENT_RUN_COMPLETED',
    );
  });

  it('day 3: X trades again (VWAP 4.20); Y has no trades and keeps 3.70', async () => {
    clock.set(at('2026-12-03T06:40:00Z'));
    await order(b, X, 'SELL', '4.20', 2);
    await order(a, X, 'BUY', '4.20', 2); // 2 @ 4.20
    clock.set(at('2026-12-03T07:30:00Z'));
    const x3 = await runDaily(X, '2026-12-03');
    expect(x3.price).toBe('4.20');
    // A: (−1×420 + 3×415 − 840)×10 = −150; B: (3×420 − 5×415 + 840)×10 = +250; C: (−2×420 + 2×415)×10 = −100
    expect(await vmOf(x3.id)).toEqual({ a: -150n, b: 250n, c: -100n });
    const y3 = await runDaily(Y, '2026-12-03');
    expect(y3.price).toBe('3.70');
    expect(await vmOf(y3.id)).toEqual({ a: 0n, b: 0n, c: 0n });
    await expectLedgerConsistent(t.prisma);
  });

  it('variation margin sums to zero per series per day, and re-running a completed run posts nothing', async () => {
    const sums = await t.prisma.$queryRaw<{ run: string; net: bigint }[]>`
      SELECT t."settlementRunId" AS run,
             sum(CASE WHEN c.code = 'ccp:settlement' THEN t."amountFen" ELSE -t."amountFen" END)::bigint AS net
      FROM transfers t JOIN ledger_accounts c ON c.id = t."creditAccountId"
      WHERE t.kind = 'VARIATION_MARGIN' GROUP BY 1`;
    expect(sums.length).toBeGreaterThan(0);
    expect(sums.every((s) => s.net === 0n)).toBe(true);
    const before = await t.prisma.transfer.count();
    const again = await t.clearing.post<{ id: string; status: string; checksum: string }>('/v1/settlement/runs', {
      type: 'DAILY',
      series: X,
      businessDate: '2026-12-01',
    });
    expect(again.body.status).toBe('COMPLETED');
    const { SettlementRunHandler } = await import('../../src/settlement/settlement-run.handler.js');
    const replay = await t.app.get(SettlementRunHandler).execute({ runId: again.body.id });
    expect(replay).toEqual({ status: 'COMPLETED', checksum: again.body.checksum });
    expect(await t.prisma.transfer.count()).toBe(before);
  });

  it('gives each member a statement of a business date, as JSON and CSV, and only its own', async () => {
    const res = await a.client.get<{
      openingBalances: Record<string, string>;
      closingBalances: Record<string, string>;
      transfers: { kind: string; amount: string; debitAccount: string; creditAccount: string }[];
      trades: { series: string; side: string; price: string; quantity: number }[];
      settlementPrices: { series: string; price: string; method: string }[];
      positions: { series: string; net: number }[];
    }>(`/v1/members/${a.id}/statements/2026-12-02`);
    expect(res.status, res.text).toBe(200);
    const st = res.body;
    expect(st.trades).toEqual([
      { id: expect.any(String), series: Y, side: 'SELL', price: '3.75', quantity: 1, block: false, time: expect.any(String) },
    ]);
    expect(st.settlementPrices).toEqual(expect.arrayContaining([{ series: Y, price: '3.70', method: 'FIXED' }]));
    expect(st.positions).toEqual(
      expect.arrayContaining([
        { series: X, long: 0, short: 3, net: -3 },
        { series: Y, long: 4, short: 1, net: 3 },
      ]),
    );
    expect(
      st.transfers
        .filter((x) => x.kind === 'VARIATION_MARGIN')
        .map((x) => x.amount)
        .sort(),
    ).toEqual(['0.30', '3.50']);
    // Closing cash = opening cash + the day's movements into and out of it.
    const cash = `member:${a.id}:cash`;
    const toFen = (x: string) => BigInt(x.replace('.', '').replace(/^(-?)0+(?=\d)/, '$1'));
    const moved = st.transfers.reduce(
      (sum, x) => sum + (x.creditAccount === cash ? toFen(x.amount) : 0n) - (x.debitAccount === cash ? toFen(x.amount) : 0n),
      0n,
    );
    expect(toFen(st.closingBalances.cash)).toBe(toFen(st.openingBalances.cash) + moved);

    const csv = await a.client.get(`/v1/members/${a.id}/statements/2026-12-02?format=csv`);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).toBe('section,date,item,series,kind_or_side,debit,credit,amount_or_price,quantity,currency,reference');
    expect(lines.filter((l) => l.startsWith('trade,'))).toHaveLength(1);
    expect(lines.some((l) => l.startsWith('settlement_price,2026-12-02,,' + Y + ',FIXED,,,3.70'))).toBe(true);
    expectProblem(await b.client.get(`/v1/members/${a.id}/statements/2026-12-02`), 404, 'NOT_FOUND');
    expectProblem(await a.client.get(`/v1/members/${a.id}/statements/2026-13-02`), 400, 'VALIDATION_FAILED');
    expect((await t.clearing.get(`/v1/members/${a.id}/statements/2026-12-02`)).status).toBe(200);
  });
});
