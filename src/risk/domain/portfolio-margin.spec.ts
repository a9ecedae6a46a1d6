import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  maintenanceFen,
  outrightFen,
  portfolioMargin,
  scenarioLossFen,
  worstCase,
  type ProductRisk,
  type SeriesLeg,
} from './portfolio-margin.js';

const product = (o: Partial<ProductRisk> = {}): ProductRisk => ({
  multiplier: 10n,
  initialMarginBp: 1_000,
  maintenanceMarginBp: 750,
  spreadChargeBp: 200,
  concentrationThresholdBp: 10_000,
  concentrationAddOnBp: 0,
  ...o,
});
const leg = (seriesId: string, net: number, o: Partial<SeriesLeg> = {}): SeriesLeg => ({
  seriesId,
  net,
  restingBuyQty: 0,
  restingSellQty: 0,
  priceFen: 400n,
  openInterest: 1_000,
  ...o,
});

describe('portfolio margin (hand-computed, fen)', () => {
  it('a single outright is exactly the old figure: 7 × 4.01 × 10 × 15 % rounded up', () => {
    const p = product({ initialMarginBp: 1_500 });
    const m = portfolioMargin([leg('a', 7, { priceFen: 401n })], p);
    // 7 × 401 × 10 × 1500 / 10000 = 4210.5 → 4211
    expect(m.totalFen).toBe(4_211n);
    expect(m.outrightFen).toBe(4_211n);
  });

  it('a calendar spread pays the spread charge instead of two outrights', () => {
    const m = portfolioMargin([leg('a', 10), leg('b', -10)], product());
    // outrights 2 × 10 × 400 × 10 × 10 % = 8000; spread 10 × 400 × 10 × 2 % = 800
    expect(m).toMatchObject({ outrightFen: 8_000n, spreadFen: 800n, spreadCreditFen: 7_200n, concentrationFen: 0n, totalFen: 800n });
  });

  it('an unbalanced spread: the naked part margins outright, the offset part at the spread charge', () => {
    const m = portfolioMargin([leg('a', 10), leg('b', -4)], product());
    // prices down: (10 − 4) × 400 × 10 × 10 % = 2400, plus 4 × 80 = 320 → 2720
    expect(m.totalFen).toBe(2_720n);
  });

  it('concentration add-on on the part above the threshold of open interest', () => {
    const m = portfolioMargin(
      [leg('a', 30, { openInterest: 100 })],
      product({ concentrationThresholdBp: 2_000, concentrationAddOnBp: 500 }),
    );
    // outright 30 × 400 × 10 × 10 % = 12000; excess 30 − 20 = 10 → 10 × 400 × 10 × 5 % = 2000
    expect(m).toMatchObject({ outrightFen: 12_000n, concentrationFen: 2_000n, totalFen: 14_000n });
  });

  it('maintenance = IM × maintenanceBp / initialBp, rounded up', () => {
    expect(maintenanceFen(8_001n, { initialMarginBp: 1_000, maintenanceMarginBp: 750 })).toBe(6_001n);
  });
});

const legArb = (i: number) =>
  fc.record({
    seriesId: fc.constant(`s${i}`),
    net: fc.integer({ min: -500, max: 500 }),
    restingBuyQty: fc.integer({ min: 0, max: 200 }),
    restingSellQty: fc.integer({ min: 0, max: 200 }),
    priceFen: fc.bigInt({ min: 1n, max: 100_000n }),
    openInterest: fc.integer({ min: 0, max: 2_000 }),
  });
const legsArb = fc.integer({ min: 1, max: 6 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => legArb(i))));
const productArb = fc.record({
  multiplier: fc.bigInt({ min: 1n, max: 1_000n }),
  initialMarginBp: fc.integer({ min: 1, max: 10_000 }),
  maintenanceMarginBp: fc.constant(0),
  spreadChargeBp: fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: null }),
  concentrationThresholdBp: fc.integer({ min: 0, max: 10_000 }),
  concentrationAddOnBp: fc.integer({ min: 0, max: 5_000 }),
});

describe('portfolio margin (properties)', () => {
  it('never below the largest single scenario loss', () => {
    fc.assert(
      fc.property(legsArb, productArb, fc.integer({ min: 1, max: 8 }), (legs, p, steps) => {
        const im = portfolioMargin(legs, p).totalFen;
        for (let k = -steps; k <= steps; k++) expect(im).toBeGreaterThanOrEqual(scenarioLossFen(legs, p, k, steps));
      }),
    );
  });

  it('never above the sum of outrights plus add-ons', () => {
    fc.assert(
      fc.property(legsArb, productArb, (legs, p) => {
        const m = portfolioMargin(legs, p);
        const outrights = legs.reduce((s, l) => s + outrightFen(l, p), 0n);
        expect(m.totalFen).toBeLessThanOrEqual(outrights + m.concentrationFen);
      }),
    );
  });

  it('monotone in position size', () => {
    fc.assert(
      fc.property(legsArb, productArb, fc.integer({ min: 1, max: 5 }), (legs, p, k) => {
        const scaled = legs.map((l) => ({
          ...l,
          net: l.net * k,
          restingBuyQty: l.restingBuyQty * k,
          restingSellQty: l.restingSellQty * k,
        }));
        expect(portfolioMargin(scaled, p).totalFen).toBeGreaterThanOrEqual(portfolioMargin(legs, p).totalFen);
      }),
    );
  });

  it('a single series (no spread, no add-on) is its outright figure', () => {
    fc.assert(
      fc.property(legArb(0), productArb, (l, p) => {
        const m = portfolioMargin([l], { ...p, concentrationAddOnBp: 0 });
        expect(m.totalFen).toBe(outrightFen(l, p));
        expect(m.totalFen).toBe(scenarioLossFen([l], p, worstCase(l) === l.net + l.restingBuyQty ? -1 : 1, 1));
      }),
    );
  });
});
