import fc from 'fast-check';
import { boundTimings, METERING_SLACK_TOKENS, verifyUsage } from './verified-usage.js';

describe('verified usage: the clearing house pays its own count', () => {
  it('bills counted tokens, capped at maxTokens, whatever the node reports', () => {
    const v = verifyUsage({
      counted: { promptTokens: 40, completionTokens: 5 },
      reported: { promptTokens: 40, completionTokens: 10_000_000 },
      maxTokens: 1,
      inputTokenWeightBp: 2_500,
      toleranceBp: 200,
    });
    expect(v.paidCompletionTokens).toBe(1);
    expect(v.billableTokens).toBe(1n + 10n);
    expect(v.discrepancy).toBe(true);
  });

  it('an empty output with tokens claimed is billed for its prompt only and flagged', () => {
    const v = verifyUsage({
      counted: { promptTokens: 20, completionTokens: 0 },
      reported: { promptTokens: 20, completionTokens: 500 },
      maxTokens: 512,
      inputTokenWeightBp: 0,
      toleranceBp: 200,
    });
    expect(v.billableTokens).toBe(0n);
    expect(v.discrepancy).toBe(true);
  });

  it('small template differences of an honest server are not a discrepancy', () => {
    const v = verifyUsage({
      counted: { promptTokens: 30, completionTokens: 100 },
      reported: { promptTokens: 33, completionTokens: 101 },
      maxTokens: 128,
      inputTokenWeightBp: 10_000,
      toleranceBp: 200,
    });
    expect(v.discrepancy).toBe(false);
    expect(v.billableTokens).toBe(130n);
  });

  it('property: billable never exceeds the counted figures with completion capped at maxTokens', () => {
    fc.assert(
      fc.property(
        fc.nat(100_000),
        fc.nat(100_000),
        fc.nat(100_000_000),
        fc.nat(100_000_000),
        fc.integer({ min: 1, max: 100_000 }),
        fc.nat(10_000),
        (cp, cc, rp, rc, maxTokens, w) => {
          const v = verifyUsage({
            counted: { promptTokens: cp, completionTokens: cc },
            reported: { promptTokens: rp, completionTokens: rc },
            maxTokens,
            inputTokenWeightBp: w,
            toleranceBp: 200,
          });
          expect(v.billableTokens).toBeLessThanOrEqual(BigInt(Math.min(cc, maxTokens)) + (BigInt(cp) * BigInt(w)) / 10_000n);
          if (v.discrepancy) expect(Math.abs(rc + (rp * w) / 10_000 - (cc + (cp * w) / 10_000))).toBeGreaterThan(METERING_SLACK_TOKENS - 1);
        },
      ),
    );
  });
});

describe('timings bounded by the server clock', () => {
  it('durationMs 0 for 1,000 tokens is impossible and is raised to the physical floor', () => {
    const t = boundTimings({
      reportedTtftMs: 0,
      reportedDurationMs: 0,
      leaseToReportMs: 5_000,
      completionTokens: 1_000,
      maxTokensPerSecond: 2_000,
    });
    expect(t).toEqual({ ttftMs: 0, durationMs: 500, impossible: true });
  });
  it('a duration longer than lease-to-report is cut to it', () => {
    const t = boundTimings({
      reportedTtftMs: 90_000,
      reportedDurationMs: 100_000,
      leaseToReportMs: 3_000,
      completionTokens: 10,
      maxTokensPerSecond: 2_000,
    });
    expect(t).toEqual({ ttftMs: 3_000, durationMs: 3_000, impossible: true });
  });
  it('an honest report passes through', () => {
    const t = boundTimings({
      reportedTtftMs: 120,
      reportedDurationMs: 2_400,
      leaseToReportMs: 2_600,
      completionTokens: 100,
      maxTokensPerSecond: 2_000,
    });
    expect(t).toEqual({ ttftMs: 120, durationMs: 2_400, impossible: false });
  });
});
