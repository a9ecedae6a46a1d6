// Position limits and the dynamic circuit breaker (SPEC 6.3). Pure functions.

export const SPOT_MONTH_DAYS = 30;
/** A trade younger than this does not anchor the circuit breaker. */
export const ANCHOR_AGE_MS = 60 * 60_000;
/** Large-trader report threshold: share of a limit, in bp. */
export const LARGE_TRADER_BP = 8_000;

/** A series is in its spot month from 30 days before its delivery start. */
export function inSpotMonth(deliveryStart: Date, now: Date): boolean {
  return now.getTime() >= deliveryStart.getTime() - SPOT_MONTH_DAYS * 86_400_000;
}

/**
 * An order breaches a limit when the member's worst-case contracts after it exceed the limit and
 * grow: an order that reduces (or keeps) exposure is always allowed, even above a new limit.
 */
export function breachesLimit(limit: number | null, before: number, after: number): boolean {
  return limit !== null && after > limit && after > before;
}

/** Share of a limit used, in bp (rounded down); null without a limit. */
export function limitUsageBp(contracts: number, limit: number | null): number | null {
  if (limit === null) return null;
  if (limit === 0) return contracts > 0 ? Number.MAX_SAFE_INTEGER : 0;
  return Math.floor((contracts * 10_000) / limit);
}

export interface AnchorInputs {
  /** The last trade at least ANCHOR_AGE_MS old. */
  oldTrade?: { priceFen: bigint; at: Date };
  /** A breach that paused the series: its price anchors from then on. */
  breach?: { priceFen: bigint; at: Date };
  /** The reference price: the last settlement price, else the listing's reference price. */
  referenceFen: bigint;
}

/** The anchor: the newer of the last old-enough trade and the last breach; else the reference price. */
export function anchorPrice(a: AnchorInputs): bigint {
  if (a.breach && (!a.oldTrade || a.breach.at >= a.oldTrade.at)) return a.breach.priceFen;
  return a.oldTrade?.priceFen ?? a.referenceFen;
}

/** Band around the anchor, rounded inward: a price at the edge never exceeds the stated bp. */
export function outsideBand(priceFen: bigint, anchorFen: bigint, bp: number): boolean {
  const band = (anchorFen * BigInt(bp)) / 10_000n;
  return priceFen < anchorFen - band || priceFen > anchorFen + band;
}
