import { completionsBody, splitByBytes } from './report-split.js';

describe('splitByBytes', () => {
  const items = (...lengths: number[]) => lengths.map((n, i) => JSON.stringify({ i, pad: 'x'.repeat(n) }));
  const bodies = (jsons: string[], maxBytes: number, maxItems = 256) =>
    splitByBytes(
      jsons.map((j) => Buffer.byteLength(j)),
      maxBytes,
      maxItems,
    ).map(([from, to]) => completionsBody(jsons.slice(from, to)));

  it('keeps every body within the budget, in order, each item exactly once', () => {
    const jsons = items(100, 300, 50, 700, 10, 10, 10, 400, 250);
    for (const budget of [1_024, 800, 2_000, 100_000]) {
      const out = bodies(jsons, budget);
      for (const b of out)
        if ((JSON.parse(b) as { completions: unknown[] }).completions.length > 1) expect(Buffer.byteLength(b)).toBeLessThanOrEqual(budget);
      expect(out.flatMap((b) => (JSON.parse(b) as { completions: { i: number }[] }).completions.map((c) => c.i))).toEqual(
        jsons.map((_, i) => i),
      );
    }
  });

  it('fills a body right up to the budget (bytes, not characters)', () => {
    const jsons = [JSON.stringify({ s: '结算' }), JSON.stringify({ s: '结算' })];
    const exact = Buffer.byteLength(completionsBody(jsons));
    expect(bodies(jsons, exact)).toHaveLength(1);
    expect(bodies(jsons, exact - 1)).toHaveLength(2);
  });

  it('gives an item over the budget a body of its own rather than dropping it', () => {
    const jsons = items(10, 5_000, 10);
    expect(bodies(jsons, 1_024).map((b) => (JSON.parse(b) as { completions: unknown[] }).completions.length)).toEqual([1, 1, 1]);
  });

  it('also caps the number of items per body', () => {
    expect(splitByBytes([1, 1, 1, 1, 1], 1_000_000, 2)).toEqual([
      [0, 2],
      [2, 4],
      [4, 5],
    ]);
    expect(splitByBytes([], 1_000, 2)).toEqual([]);
  });
});
