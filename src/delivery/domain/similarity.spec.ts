import fc from 'fast-check';
import { tokenSimilarityBp } from './similarity.js';

/** Reference: LCS by dynamic programming. */
function lcs(a: number[], b: number[]): number {
  const dp = Array.from({ length: a.length + 1 }, () => Array.from({ length: b.length + 1 }, () => 0));
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) dp[i][j] = a[i - 1] === b[j - 1] ? dp[i - 1][j - 1] + 1 : Math.max(dp[i - 1][j], dp[i][j - 1]);
  return dp[a.length][b.length];
}

describe('token similarity', () => {
  it('identical = 10,000 bp; nothing in common = 0; one token changed in 100 ≈ 9,900', () => {
    const a = Array.from({ length: 100 }, (_, i) => i);
    expect(tokenSimilarityBp(a, a)).toBe(10_000);
    expect(
      tokenSimilarityBp(
        a,
        a.map((x) => x + 1000),
      ),
    ).toBe(0);
    const b = [...a];
    b[50] = -1;
    expect(tokenSimilarityBp(a, b)).toBe(9_900);
    expect(tokenSimilarityBp([], [])).toBe(10_000);
    expect(tokenSimilarityBp(a, [])).toBe(0);
  });

  it('property: equals 2·LCS/(n+m) by dynamic programming, symmetric; with a floor, exact at or above it and 0 below', () => {
    const seq = fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 40 });
    fc.assert(
      fc.property(seq, seq, fc.integer({ min: 0, max: 10_000 }), (a, b, floor) => {
        const exact = a.length + b.length === 0 ? 10_000 : Math.floor((2 * lcs(a, b) * 10_000) / (a.length + b.length));
        expect(tokenSimilarityBp(a, b)).toBe(exact);
        expect(tokenSimilarityBp(b, a)).toBe(exact);
        const floored = tokenSimilarityBp(a, b, floor);
        if (exact >= floor) expect(floored).toBe(exact);
        else expect(floored).toBeLessThan(floor);
      }),
      { numRuns: 2_000 },
    );
  });
});
