import { basisPoints } from '../../platform/money/money.js';

/**
 * Metering arithmetic of a delivery obligation. One rounding rule, stated here once: the buyer's
 * escrow is released to the seller in proportion to tokens delivered, rounded DOWN to the fen on
 * the cumulative total (in the buyer's favour), so the release that completes the obligation
 * carries the remainder and the releases of an obligation always add up to its notional exactly.
 */

/** Billable tokens: output + input × inputTokenWeightBp / 10,000, rounded down (the buyer's favour). */
export function billableTokens(promptTokens: bigint, completionTokens: bigint, inputTokenWeightBp: number): bigint {
  return completionTokens + (promptTokens * BigInt(inputTokenWeightBp)) / 10_000n;
}

/** Escrow due to the seller once `delivered` of `tokens` are delivered (cumulative, rounded down). */
export function releasedFor(notionalFen: bigint, tokens: bigint, delivered: bigint): bigint {
  if (delivered >= tokens) return notionalFen;
  return (notionalFen * delivered) / tokens;
}

export interface MeteredCompletion {
  /** Tokens credited to the obligation: billable, capped at what remains of it. */
  credited: bigint;
  /** Billable tokens beyond the obligation: recorded, never paid. */
  excess: bigint;
  deliveredAfter: bigint;
  /** Fen moving buyer escrow → seller cash for this completion. */
  releaseFen: bigint;
}

export function meter(
  o: { tokens: bigint; deliveredTokens: bigint; notionalFen: bigint; releasedFen: bigint },
  billable: bigint,
): MeteredCompletion {
  const remaining = o.tokens - o.deliveredTokens;
  const credited = billable < remaining ? billable : remaining;
  const deliveredAfter = o.deliveredTokens + credited;
  return {
    credited,
    excess: billable - credited,
    deliveredAfter,
    releaseFen: releasedFor(o.notionalFen, o.tokens, deliveredAfter) - o.releasedFen,
  };
}

/**
 * Window close of one obligation: the remainder splits into shortfall (operator-side failures,
 * capped at the remainder) and unused (take-or-pay: paid to the seller). The refund is the escrow
 * left after paying for delivered + unused tokens at the same cumulative rule; the penalty is
 * penaltyBp of the refunded value, rounded against the seller (money.ts states the rule).
 */
export function closeObligation(
  o: { tokens: bigint; deliveredTokens: bigint; notionalFen: bigint; releasedFen: bigint },
  failedOperatorTokens: bigint,
  penaltyBp: number,
): { shortfall: bigint; unused: bigint; releaseFen: bigint; refundFen: bigint; penaltyFen: bigint } {
  const remaining = o.tokens - o.deliveredTokens;
  const shortfall = failedOperatorTokens < remaining ? failedOperatorTokens : remaining;
  const unused = remaining - shortfall;
  const paidTotal = releasedFor(o.notionalFen, o.tokens, o.deliveredTokens + unused);
  const releaseFen = paidTotal - o.releasedFen;
  const refundFen = o.notionalFen - paidTotal;
  const penaltyFen = shortfall > 0n ? basisPoints(refundFen, penaltyBp, 'against-member') : 0n;
  return { shortfall, unused, releaseFen, refundFen, penaltyFen };
}
