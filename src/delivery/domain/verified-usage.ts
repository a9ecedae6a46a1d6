/**
 * What the clearing house pays for (SPEC §6.1): its own count of the tokens, never the node's
 * report. Pure rules, no I/O — the counting itself is in ../counting.
 */

export interface UsageFigures {
  promptTokens: number;
  completionTokens: number;
}

/**
 * An absolute slack under which a difference is never a discrepancy: honest servers count the
 * chat template's framing and an end-of-sequence token a little differently from our one rule
 * (chat-template.ts), which on a short job is more than the basis-point tolerance.
 */
export const METERING_SLACK_TOKENS = 16;

export interface VerifiedUsage {
  counted: UsageFigures;
  /** Completion tokens paid: counted, capped at the job's maxTokens. */
  paidCompletionTokens: number;
  /** Billable tokens from the counted figures: paid completion + prompt × weight / 10,000, rounded down. */
  billableTokens: bigint;
  /** |reported − counted| of the billable figure, in basis points of the counted one (0 without a report). */
  discrepancyBp: number;
  /** Over the tolerance (and the slack): the job is flagged and a METERING_DISCREPANCY break opens. */
  discrepancy: boolean;
}

function billable(promptTokens: number, completionTokens: number, inputTokenWeightBp: number): bigint {
  return BigInt(completionTokens) + (BigInt(promptTokens) * BigInt(inputTokenWeightBp)) / 10_000n;
}

export function verifyUsage(input: {
  counted: UsageFigures;
  reported: UsageFigures;
  maxTokens: number;
  inputTokenWeightBp: number;
  toleranceBp: number;
}): VerifiedUsage {
  const { counted, reported, maxTokens, inputTokenWeightBp, toleranceBp } = input;
  const paidCompletionTokens = Math.min(counted.completionTokens, maxTokens);
  const countedBillable = billable(counted.promptTokens, counted.completionTokens, inputTokenWeightBp);
  const reportedBillable = billable(reported.promptTokens, reported.completionTokens, inputTokenWeightBp);
  const diff = reportedBillable > countedBillable ? reportedBillable - countedBillable : countedBillable - reportedBillable;
  const base = countedBillable > 0n ? countedBillable : 1n;
  const bp = (diff * 10_000n) / base;
  const discrepancyBp = bp > 1_000_000_000n ? 1_000_000_000 : Number(bp);
  return {
    counted,
    paidCompletionTokens,
    billableTokens: billable(counted.promptTokens, paidCompletionTokens, inputTokenWeightBp),
    discrepancyBp,
    discrepancy: discrepancyBp > toleranceBp && diff > BigInt(METERING_SLACK_TOKENS),
  };
}

/**
 * Timings bounded by the server's own clock: a job cannot take longer than from its lease to the
 * report, nor be faster than `maxTokensPerSecond` allows for the counted output. The bounded
 * figures are what SLA verdicts use; a report outside the bounds is flagged as impossible.
 */
export function boundTimings(input: {
  reportedTtftMs: number;
  reportedDurationMs: number;
  leaseToReportMs: number;
  completionTokens: number;
  maxTokensPerSecond: number;
}): { ttftMs: number; durationMs: number; impossible: boolean } {
  const ceiling = Math.max(0, Math.floor(input.leaseToReportMs));
  const floor = Math.min(ceiling, Math.ceil((input.completionTokens * 1000) / input.maxTokensPerSecond));
  const durationMs = Math.min(ceiling, Math.max(floor, input.reportedDurationMs));
  const ttftMs = Math.min(durationMs, Math.max(0, input.reportedTtftMs));
  const impossible =
    input.reportedDurationMs > ceiling ||
    input.reportedDurationMs < floor ||
    input.reportedTtftMs > input.reportedDurationMs ||
    input.reportedTtftMs < 0;
  return { ttftMs, durationMs, impossible };
}
