import fc from 'fast-check';
import { runWaterfall, survivorShares, type WaterfallLayer } from './waterfall.js';

const ORDER: WaterfallLayer[] = ['DEFAULTER_MARGIN', 'DEFAULTER_GUARANTEE', 'CCP_CAPITAL', 'SURVIVOR_GUARANTEE'];

describe('default waterfall', () => {
  it('hand-computed: margin and guarantee not enough, ccp:capital and the survivors pay, pro rata', () => {
    const out = runWaterfall('D', 1_000_000n, {
      defaulterMarginFen: 500_000n,
      defaulterGuaranteeFen: 200_000n,
      ccpCapitalFen: 100_000n,
      survivors: [
        { memberId: 'A', contributionFen: 300_000n, requirementFen: 300_000n },
        { memberId: 'B', contributionFen: 100_000n, requirementFen: 100_000n },
      ],
    });
    // 1,000,000 − 500,000 − 200,000 − 100,000 = 200,000 for the survivors, 3:1 → 150,000 / 50,000.
    expect(out.steps).toEqual([
      { layer: 'DEFAULTER_MARGIN', memberId: 'D', amountFen: 500_000n },
      { layer: 'DEFAULTER_GUARANTEE', memberId: 'D', amountFen: 200_000n },
      { layer: 'CCP_CAPITAL', memberId: null, amountFen: 100_000n },
      { layer: 'SURVIVOR_GUARANTEE', memberId: 'A', amountFen: 150_000n },
      { layer: 'SURVIVOR_GUARANTEE', memberId: 'B', amountFen: 50_000n },
    ]);
    expect(out).toMatchObject({ coveredFen: 1_000_000n, uncoveredFen: 0n });
  });

  it('survivor shares add up exactly: odd fen go to the largest requirement first', () => {
    const shares = survivorShares(10n, [
      { memberId: 'a', contributionFen: 100n, requirementFen: 1n },
      { memberId: 'b', contributionFen: 100n, requirementFen: 1n },
      { memberId: 'c', contributionFen: 100n, requirementFen: 2n },
    ]);
    expect(Object.fromEntries(shares)).toEqual({ a: 3n, b: 2n, c: 5n });
  });

  it('a survivor whose contribution runs out passes the rest to the others', () => {
    const shares = survivorShares(100n, [
      { memberId: 'a', contributionFen: 10n, requirementFen: 50n },
      { memberId: 'b', contributionFen: 1_000n, requirementFen: 50n },
    ]);
    expect(Object.fromEntries(shares)).toEqual({ a: 10n, b: 90n });
  });

  const fen = fc.bigInt({ min: 0n, max: 10n ** 12n });
  const survivor = fc.record({ contributionFen: fen, requirementFen: fen });

  it('property: layers in order, each exhausted before the next, never more than the loss, survivors within their contributions', () => {
    fc.assert(
      fc.property(fen, fen, fen, fen, fc.array(survivor, { maxLength: 8 }), (loss, margin, guarantee, capital, raw) => {
        const survivors = raw.map((s, i) => ({ memberId: `m${i}`, ...s }));
        const out = runWaterfall('D', loss, {
          defaulterMarginFen: margin,
          defaulterGuaranteeFen: guarantee,
          ccpCapitalFen: capital,
          survivors,
        });
        const paid = out.steps.reduce((n, s) => n + s.amountFen, 0n);
        expect(paid).toBe(out.coveredFen);
        expect(out.coveredFen + out.uncoveredFen).toBe(loss);
        expect(paid <= loss).toBe(true);
        // Order, and a later layer only once the earlier ones are used up.
        const byLayer = (l: WaterfallLayer) => out.steps.filter((s) => s.layer === l).reduce((n, s) => n + s.amountFen, 0n);
        const available: Record<WaterfallLayer, bigint> = {
          DEFAULTER_MARGIN: margin,
          DEFAULTER_GUARANTEE: guarantee,
          CCP_CAPITAL: capital,
          SURVIVOR_GUARANTEE: survivors.filter((s) => s.requirementFen > 0n).reduce((n, s) => n + s.contributionFen, 0n),
        };
        const indices = out.steps.map((s) => ORDER.indexOf(s.layer));
        expect(indices).toEqual([...indices].sort((a, b) => a - b));
        for (let i = 0; i < ORDER.length; i++) {
          const later = ORDER.slice(i + 1).some((l) => byLayer(l) > 0n);
          if (later) expect(byLayer(ORDER[i])).toBe(available[ORDER[i]]);
          expect(byLayer(ORDER[i]) <= available[ORDER[i]]).toBe(true);
        }
        for (const s of survivors) {
          const took = out.steps.filter((x) => x.memberId === s.memberId).reduce((n, x) => n + x.amountFen, 0n);
          expect(took <= s.contributionFen).toBe(true);
        }
        // Uncovered only when every layer is exhausted.
        if (out.uncoveredFen > 0n) expect(paid).toBe(Object.values(available).reduce((a, b) => a + b, 0n));
      }),
      { numRuns: 500 },
    );
  });
});
