/** A member's net position at expiry, as delivery allocation sees it. */
export interface NetLong {
  memberId: string;
  contracts: number;
  /** When the member's long was first opened: older longs are served first. */
  since: Date;
}

export interface NetShort {
  memberId: string;
  contracts: number;
}

export interface Pairing {
  seq: number;
  sellerId: string;
  buyerId: string;
  contracts: number;
}

export interface Allocation {
  pairings: Pairing[];
  /**
   * Contracts left unpaired because the other side was closed out (trader positions closed at
   * expiry): cash-settled at the final price, which the final VM has already paid.
   */
  unpairedLongs: { memberId: string; contracts: number }[];
  unpairedShorts: { memberId: string; contracts: number }[];
}

/**
 * Pairs net shorts with net longs, deterministically whatever the input order: longs oldest
 * position first (member id breaks ties), shorts by member id, quantities split as needed.
 * When the sides differ (only after trader close-outs), the newest longs or the last shorts in
 * that order stay unpaired.
 */
export function allocate(longs: readonly NetLong[], shorts: readonly NetShort[]): Allocation {
  const L = longs
    .filter((l) => l.contracts > 0)
    .map((l) => ({ ...l }))
    .sort((a, b) => a.since.getTime() - b.since.getTime() || compare(a.memberId, b.memberId));
  const S = shorts
    .filter((s) => s.contracts > 0)
    .map((s) => ({ ...s }))
    .sort((a, b) => compare(a.memberId, b.memberId));
  const pairings: Pairing[] = [];
  let i = 0;
  let j = 0;
  while (i < L.length && j < S.length) {
    const qty = Math.min(L[i].contracts, S[j].contracts);
    pairings.push({ seq: pairings.length + 1, sellerId: S[j].memberId, buyerId: L[i].memberId, contracts: qty });
    L[i].contracts -= qty;
    S[j].contracts -= qty;
    if (L[i].contracts === 0) i++;
    if (S[j].contracts === 0) j++;
  }
  return {
    pairings,
    unpairedLongs: L.filter((l) => l.contracts > 0).map((l) => ({ memberId: l.memberId, contracts: l.contracts })),
    unpairedShorts: S.filter((s) => s.contracts > 0).map((s) => ({ memberId: s.memberId, contracts: s.contracts })),
  };
}

// Plain code-unit order, the same as Postgres' uuid ordering for lowercase UUID text.
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
