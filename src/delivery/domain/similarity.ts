/**
 * Token-level similarity of two outputs for verification by re-execution (SPEC §6.1):
 * 2 × |LCS| / (|a| + |b|) in basis points — 10,000 for identical token sequences, 0 for sequences
 * with no token in common in order. The LCS comes from Myers' O((N+M)·D) diff, so honest
 * re-executions (D small) cost little; `floorBp` stops the search as soon as the edit distance
 * proves the similarity is below it (the verdict needs no more), answering 0 then.
 */
export function tokenSimilarityBp(a: readonly number[], b: readonly number[], floorBp = 0): number {
  const n = a.length;
  const m = b.length;
  if (n + m === 0) return 10_000;
  // similarity = (n + m − D) / (n + m), D the number of insertions + deletions.
  const maxD = floorBp > 0 ? Math.floor(((n + m) * (10_000 - floorBp)) / 10_000) : n + m;
  const offset = maxD + 1;
  const v = new Int32Array(2 * offset + 2);
  for (let d = 0; d <= maxD; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) return Math.floor(((n + m - d) * 10_000) / (n + m));
    }
  }
  return 0;
}
