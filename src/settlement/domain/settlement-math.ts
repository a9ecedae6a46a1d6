import { createHash } from 'node:crypto';

/**
 * Variation margin of one member in one series for one business day, exact in fen:
 *   VM = (netEnd × S_t − netStart × S_{t−1} − Σ_today signedQty × tradePrice) × multiplier
 * Positive: the CCP pays the member; negative: the member pays the CCP.
 */
export function variationMarginFen(v: {
  netStart: bigint;
  netEnd: bigint;
  prevPriceFen: bigint;
  priceFen: bigint;
  todaysSignedCostFen: bigint;
  multiplier: bigint;
}): bigint {
  return (v.netEnd * v.priceFen - v.netStart * v.prevPriceFen - v.todaysSignedCostFen) * v.multiplier;
}

/** Rounds a rational price (numerator / denominator, in fen) to the nearest tick, halves up. */
export function roundToTick(numerator: bigint, denominator: bigint, tickFen: bigint): bigint {
  const scaled = numerator * 2n + denominator * tickFen; // (x / tick + 1/2) × 2 × denominator × tick
  return (scaled / (2n * denominator * tickFen)) * tickFen;
}

/** VWAP from the window's totals (Σ price × qty, Σ qty), on the tick; none without volume. */
export function vwapFen(totals: { notionalFen: bigint; quantity: bigint }, tickFen: bigint): bigint | undefined {
  if (totals.quantity === 0n) return undefined;
  return roundToTick(totals.notionalFen, totals.quantity, tickFen);
}

export function midFen(bid: bigint, ask: bigint, tickFen: bigint): bigint {
  return roundToTick(bid + ask, 2n, tickFen);
}

/** The instant a business date ends: its Shanghai calendar day at the cut-off (UTC+8, no DST). */
export function endOfBusinessDay(businessDate: string, cutoff: string): Date {
  return new Date(`${businessDate}T${cutoff}:00+08:00`);
}

/** A run's fingerprint: identical transfers (by key, accounts and amount) give identical checksums. */
export function transfersChecksum(rows: { key: string; debit: string; credit: string; amountFen: bigint }[]): string {
  const h = createHash('sha256');
  for (const r of [...rows].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)))
    h.update(`${r.key}|${r.debit}|${r.credit}|${r.amountFen}\n`);
  return h.digest('hex');
}
