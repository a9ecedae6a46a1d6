import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DailySettlementRepository, type NettedRow, type SeriesLeg } from '../../src/settlement/daily-settlement.repository.js';
import { Clock } from '../../src/platform/time/clock.js';
import { createMember, type TestMember } from '../harness/factories.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

// The daily run's one pass over positions and the day's trades, over series of two products with
// different margin rates, against a recomputation in TypeScript from the same rows: the margin
// held after the run must land on the right product (the maintenance check applies each product's
// own rates to it), and a member without a position in a product has no entry for it.
const DAY = '2026-12-01';
const DATES = { lastTradingAt: '2026-12-20T07:00:00Z', deliveryStart: '2026-12-21T00:00:00Z', deliveryEnd: '2026-12-31T00:00:00Z' };
const LAST_UUID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
const MULT = 10n; // 10M-token contracts quoted per 1M

describe('the daily netting pass, series of two products', () => {
  let t: TestApp;
  let repo: DailySettlementRepository;
  let a: TestMember;
  let b: TestMember;
  let c: TestMember;
  let d: TestMember;
  let legs: SeriesLeg[];
  const productOf = new Map<string, string>();

  beforeAll(async () => {
    t = await startTestApp();
    t.app.get(Clock).set(new Date('2026-12-01T06:40:00Z')); // 14:40 Shanghai, business date 12-01
    repo = t.app.get(DailySettlementRepository);
    [a, b, c, d] = [
      await createMember(t, 'TRADER'),
      await createMember(t, 'TRADER'),
      await createMember(t, 'TRADER'),
      await createMember(t, 'TRADER'),
    ];
    for (const m of [a, b, c, d]) await fund(t, m, '5000.00');
    const p = await createProduct(t, { feePerContractFen: 0, initialMarginBp: 1_000 });
    const q = await createProduct(t, { feePerContractFen: 0, initialMarginBp: 2_345 });
    const [x, y1, y2] = [await createSeries(t, p, DATES), await createSeries(t, q, DATES), await createSeries(t, q, DATES)];
    const trade = async (buyer: TestMember, seller: TestMember, series: string, price: string, qty: number) => {
      expect((await order(seller, series, 'SELL', price, qty)).status).toBe(201);
      expect((await order(buyer, series, 'BUY', price, qty)).status).toBe(201);
    };
    await trade(a, b, x, '4.00', 3);
    await trade(a, c, y1, '4.10', 2);
    await trade(c, b, y2, '3.90', 7);
    await trade(b, a, y1, '4.05', 1); // a now long 1 Y1, b short 3 X, short 7 Y2, long 1 Y1
    // c: long 7 Y2, short 2 Y1 — no position in X, so nothing of product P
    // d hedges across products: long 4 X (product P), short 4 Y2 (product Q), both at 4.00.
    await trade(d, b, x, '4.00', 4);
    await trade(b, d, y2, '4.00', 4);
    const series = await t.prisma.series.findMany({ where: { code: { in: [x, y1, y2] } }, include: { product: true } });
    const newPrice: Record<string, bigint> = { [x]: 421n, [y1]: 397n, [y2]: 403n };
    legs = series.map((s) => {
      productOf.set(s.id, s.productId);
      return {
        seriesId: s.id,
        productId: s.productId,
        priceFen: newPrice[s.code],
        previousFen: 400n,
        multiplier: MULT,
        oldMarginFen: 400n,
        newMarginFen: newPrice[s.code],
        initialMarginBp: s.product.initialMarginBp,
      };
    });
  });
  afterAll(() => t.close());

  /** The same figures from the positions and trades, row by row, in TypeScript. */
  const recomputed = async (): Promise<Map<string, { vm: bigint; im: bigint; held: Map<string, bigint> }>> => {
    const out = new Map<string, { vm: bigint; im: bigint; held: Map<string, bigint> }>();
    const row = (m: string) => out.get(m) ?? out.set(m, { vm: 0n, im: 0n, held: new Map() }).get(m)!;
    const ceilDiv = (n: bigint, d: bigint) => (n + d - 1n) / d;
    const byId = new Map(legs.map((l) => [l.seriesId, l]));
    for (const p of await t.prisma.position.findMany({ where: { seriesId: { in: legs.map((l) => l.seriesId) } } })) {
      const l = byId.get(p.seriesId)!;
      const r = row(p.memberId);
      const net = BigInt(p.longQty - p.shortQty);
      const q = BigInt(p.marginQty);
      const held = ceilDiv(q * l.newMarginFen * MULT * BigInt(l.initialMarginBp), 10_000n);
      const was = ceilDiv(q * l.oldMarginFen * MULT * BigInt(l.initialMarginBp), 10_000n);
      r.vm += net * (l.priceFen - l.previousFen) * MULT;
      r.im += held - was;
      r.held.set(l.productId, (r.held.get(l.productId) ?? 0n) + held);
    }
    for (const tr of await t.prisma.trade.findMany({ where: { seriesId: { in: legs.map((l) => l.seriesId) } } })) {
      const l = byId.get(tr.seriesId)!;
      const leg = BigInt(tr.quantity) * (l.previousFen - tr.priceFen) * MULT; // bought today at price, marked at S_t−1
      row(tr.buyerId).vm += leg;
      row(tr.sellerId).vm -= leg;
    }
    return out;
  };

  const asRecord = (rows: NettedRow[]) =>
    Object.fromEntries(
      rows.map((r) => [r.memberId, { vm: r.vmFen, im: r.imFen, held: Object.fromEntries([...r.heldFen].map(([p, f]) => [p, f])) }]),
    );

  it('gives each member its VM, its change of margin, and the margin held per product, as a recomputation does', async () => {
    const rows = await repo.netted(t.prisma, legs, DAY, null, LAST_UUID);
    const want = await recomputed();
    expect(asRecord(rows)).toEqual(
      Object.fromEntries([...want].map(([m, w]) => [m, { vm: w.vm, im: w.im, held: Object.fromEntries(w.held) }])),
    );
    // Rates differ by product, so a margin summed under the wrong product would change the figures above;
    // and c, with no position of product P, has no entry for it.
    const cRow = rows.find((r) => r.memberId === c.id)!;
    expect([...cRow.heldFen.keys()]).toEqual([legs.find((l) => l.initialMarginBp === 2_345)!.productId]);
    expect(rows.find((r) => r.memberId === a.id)!.heldFen.size).toBe(2);
    expect(rows.reduce((s, r) => s + r.vmFen, 0n)).toBe(0n); // VM sums to zero over the members
  });

  it('a member hedged across two products holds margin on both legs: nothing nets the margin away', async () => {
    const row = (await repo.netted(t.prisma, legs, DAY, null, LAST_UUID)).find((r) => r.memberId === d.id)!;
    const [p, q] = [legs.find((l) => l.initialMarginBp === 1_000)!.productId, legs.find((l) => l.initialMarginBp === 2_345)!.productId];
    // By hand, multiplier 10: X long 4 at 4.21, 10 % → 4 × 421 × 10 × 0.1 = 16.84; Y2 short 4 at 4.03,
    // 23.45 % → ⌈3780.14⌉ = 37.81. Held before at 4.00: 16.00 + 37.52 = 53.52, so 1.13 more margin.
    expect(Object.fromEntries(row.heldFen)).toEqual({ [p]: 1_684n, [q]: 3_781n });
    expect(row.imFen).toBe(113n);
    // VM does net (one transfer a member): +4 × 0.21 × 10 on X, −4 × 0.03 × 10 on Y2, traded at 4.00.
    expect(row.vmFen).toBe(720n);
    expect(row.margined).toBe(true);
  });

  it('gives the same rows range by range as in one pass', async () => {
    const whole = await repo.netted(t.prisma, legs, DAY, null, LAST_UUID);
    const ids = [a.id, b.id, c.id, d.id].sort();
    const first = await repo.netted(t.prisma, legs, DAY, null, ids[0]);
    const rest = await repo.netted(t.prisma, legs, DAY, ids[0], LAST_UUID);
    expect(first.map((r) => r.memberId)).toEqual([ids[0]]);
    expect(asRecord([...first, ...rest])).toEqual(asRecord(whole));
  });

  it('nets nothing over no series, with no SQL error', async () => {
    expect(await repo.netted(t.prisma, [], DAY, null, LAST_UUID)).toEqual([]);
  });

  it('gives the same rows with the products listed in the other order', async () => {
    const whole = await repo.netted(t.prisma, legs, DAY, null, LAST_UUID);
    expect(asRecord(await repo.netted(t.prisma, [...legs].reverse(), DAY, null, LAST_UUID))).toEqual(asRecord(whole));
  });
});
