import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { legSums, portfolioMargin, portfolioMarginOf, type ProductRisk, type SeriesLeg } from '../../src/risk/domain/portfolio-margin.js';
import { RiskMarksRepository } from '../../src/settlement/risk-marks.repository.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

// The maintenance check sums each member's legs per product in SQL (RiskMarksRepository
// .requirementSums); the portfolio math combines the sums in TypeScript. Property: on random books
// (positions, resting orders, prices, a last trade since settlement or not, open interest, risk
// parameters), the SQL sums are exactly `legSums` of the same legs, so the margin is exactly
// `portfolioMargin` of the legs — for both marks (last trade, margin price).

interface Book {
  product: { mult: number; imBp: number; addOnBp: number; thresholdBp: number; spread: boolean };
  series: { marginFen: number; settled: boolean; lastFen: number | null }[];
  positions: { member: number; series: number; long: number; short: number; buy: number; sell: number }[];
}

const bookArb: fc.Arbitrary<Book> = fc
  .record({
    product: fc.record({
      mult: fc.integer({ min: 1, max: 100 }),
      imBp: fc.integer({ min: 1, max: 5_000 }),
      addOnBp: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2_000 })),
      thresholdBp: fc.integer({ min: 0, max: 10_000 }),
      spread: fc.boolean(),
    }),
    series: fc.array(
      fc.record({
        marginFen: fc.integer({ min: 1, max: 100_000 }),
        settled: fc.boolean(),
        lastFen: fc.option(fc.integer({ min: 1, max: 100_000 }), { nil: null }),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  })
  .chain((b) =>
    fc
      .uniqueArray(
        fc.record({
          member: fc.integer({ min: 0, max: 2 }),
          series: fc.integer({ min: 0, max: b.series.length - 1 }),
          long: fc.integer({ min: 0, max: 60 }),
          short: fc.integer({ min: 0, max: 60 }),
          buy: fc.integer({ min: 0, max: 20 }),
          sell: fc.integer({ min: 0, max: 20 }),
        }),
        { selector: (p) => `${p.member}:${p.series}`, minLength: 1, maxLength: 12 },
      )
      .map((positions) => ({ ...b, positions })),
  );

describe('requirement sums in SQL = legSums in TypeScript (property, real Postgres)', () => {
  let t: TestApp;
  let repo: RiskMarksRepository;
  let run = 0;
  beforeAll(async () => {
    t = await startTestApp();
    repo = t.app.get(RiskMarksRepository);
  });
  afterAll(() => t.close());

  it('agree on random books, at the last trade and at the margin price', async () => {
    await fc.assert(
      fc.asyncProperty(bookArb, async (book) => {
        run++;
        const db = t.prisma;
        const [product] = await db.$queryRaw<{ id: string }[]>`
          INSERT INTO products (id, code, "modelClass", "contractSizeTokens", "tickFen", "settlementType", "initialMarginBp", "maintenanceMarginBp",
                                "feePerContractFen", "penaltyBp", "maxTtftMs", "minTokensPerSecond", regions, "inputTokenWeightBp",
                                "spreadChargeBp", "concentrationAddOnBp", "concentrationThresholdBp")
          VALUES (gen_random_uuid(), ${`RQS${run}-${Date.now() % 100_000}`}, 'llm-70b-instruct', ${BigInt(book.product.mult) * 1_000_000n}, 1, 'CASH',
                  ${book.product.imBp}, ${Math.floor(book.product.imBp / 2)}, 0, 0, 1000, 1, '{cn-east-1}', 0,
                  ${book.product.spread ? 200 : null}::int, ${book.product.addOnBp}, ${book.product.thresholdBp})
          RETURNING id`;
        const series: string[] = [];
        for (const [i, s] of book.series.entries()) {
          const [row] = await db.$queryRaw<{ id: string }[]>`
            INSERT INTO series (id, code, "productId", status, "tradingStartAt", "lastTradingAt", "deliveryStart", "deliveryEnd", "referencePriceFen",
                                "lastSettlementPriceFen", "lastSettlementDate")
            VALUES (gen_random_uuid(), ${`RQS${run}-${Date.now() % 100_000}-${i}`}, ${product.id}::uuid, 'TRADING', now() - interval '1 day',
                    now() + interval '10 days', now() + interval '11 days', now() + interval '12 days',
                    ${s.settled ? 1 : s.marginFen}, ${s.settled ? s.marginFen : null}::bigint, ${s.settled ? '2026-11-30' : null}::date)
            RETURNING id`;
          series.push(row.id);
        }
        const members = await db.$queryRaw<{ id: string }[]>`
          INSERT INTO members (id, name, kind, "updatedAt") SELECT gen_random_uuid(), 'rqs-' || g, 'TRADER', now() FROM generate_series(1, 3) g RETURNING id`;
        const ids = members.map((m) => m.id);
        // The last trade since the series' last settlement (2026-12-01 is after 2026-11-30).
        for (const [i, s] of book.series.entries())
          if (s.lastFen !== null)
            await db.$executeRaw`
              INSERT INTO trades (id, "seriesId", "priceFen", quantity, "buyerId", "sellerId", "businessDate")
              VALUES (gen_random_uuid(), ${series[i]}::uuid, ${s.lastFen}, 1, ${ids[0]}::uuid, ${ids[1]}::uuid, '2026-12-01')`;
        const legs = book.positions.map((p) => {
          const net = p.long - p.short;
          return { ...p, net, wc: Math.max(0, net + p.buy, p.sell - net) };
        });
        for (const p of legs) {
          await db.$executeRaw`
            INSERT INTO positions ("memberId", "seriesId", "longQty", "shortQty", "marginQty", "updatedAt")
            VALUES (${ids[p.member]}::uuid, ${series[p.series]}::uuid, ${p.long}, ${p.short}, ${p.wc}, now())`;
          if (p.buy + p.sell > 0)
            await db.$executeRaw`
              INSERT INTO resting_quantities ("memberId", "seriesId", "buyQty", "sellQty") VALUES (${ids[p.member]}::uuid, ${series[p.series]}::uuid, ${p.buy}, ${p.sell})`;
        }
        const risk: ProductRisk = {
          multiplier: BigInt(book.product.mult),
          initialMarginBp: book.product.imBp,
          maintenanceMarginBp: Math.floor(book.product.imBp / 2),
          spreadChargeBp: book.product.spread ? 200 : null,
          concentrationThresholdBp: book.product.thresholdBp,
          concentrationAddOnBp: book.product.addOnBp,
        };
        const openInterest = (i: number) => legs.filter((p) => p.series === i).reduce((a, p) => a + p.long, 0);
        for (const at of ['last', 'margin'] as const) {
          const rows = await repo.requirementSums(db, { members: ids }, await repo.marks(db, at, ids));
          const expected = new Map<string, SeriesLeg[]>();
          for (const p of legs.filter((x) => x.wc > 0)) {
            const s = book.series[p.series];
            const list = expected.get(ids[p.member]) ?? expected.set(ids[p.member], []).get(ids[p.member])!;
            list.push({
              seriesId: series[p.series],
              net: p.net,
              restingBuyQty: p.buy,
              restingSellQty: p.sell,
              priceFen: BigInt(at === 'last' && s.lastFen !== null ? s.lastFen : s.marginFen),
              openInterest: openInterest(p.series),
            });
          }
          expect(new Set(rows.map((r) => r.memberId))).toEqual(new Set(expected.keys()));
          for (const r of rows) {
            expect(r.productId).toBe(product.id);
            const l = expected.get(r.memberId)!;
            expect(r.sums).toEqual(legSums(l, risk));
            expect(portfolioMarginOf(r.sums, risk)).toEqual(portfolioMargin(l, risk));
          }
        }
      }),
      { numRuns: 40 },
    );
  });
});
