import { DEFAULT_INFERENCE_TIMEOUT_MS } from './inference/inference.js';
import { jobTimeoutMs, MAX_JOB_TIMEOUT_MS } from './job-timeout.js';

describe('jobTimeoutMs', () => {
  const rule = { ttftAllowanceMs: 30_000 };

  it('is the TTFT allowance plus maxTokens at half the rate floor', () => {
    // 1,000 tokens at a floor of 50/s take 20 s; the margin allows 40 s.
    expect(jobTimeoutMs({ maxTokens: 1_000, minTokensPerSecond: 50 }, rule)).toBe(70_000);
    expect(jobTimeoutMs({ maxTokens: 7, minTokensPerSecond: 3 }, { ttftAllowanceMs: 0 })).toBe(4_667); // rounded up
  });

  it('grows with maxTokens and shrinks with a higher floor', () => {
    const small = jobTimeoutMs({ maxTokens: 100, minTokensPerSecond: 20 }, rule);
    expect(jobTimeoutMs({ maxTokens: 1_000, minTokensPerSecond: 20 }, rule)).toBeGreaterThan(small);
    expect(jobTimeoutMs({ maxTokens: 100, minTokensPerSecond: 200 }, rule)).toBeLessThan(small);
  });

  it('keeps the default when the lease names no floor (or a meaningless one)', () => {
    for (const minTokensPerSecond of [undefined, 0, -5, Number.NaN])
      expect(jobTimeoutMs({ maxTokens: 1_000, minTokensPerSecond }, rule)).toBe(DEFAULT_INFERENCE_TIMEOUT_MS);
  });

  it('never exceeds a day (the longest duration a report may carry, and within setTimeout range)', () => {
    expect(jobTimeoutMs({ maxTokens: 1_000_000, minTokensPerSecond: 1 }, rule)).toBe(MAX_JOB_TIMEOUT_MS);
  });

  it('--job-timeout-ms overrides both', () => {
    expect(jobTimeoutMs({ maxTokens: 1_000, minTokensPerSecond: 50 }, { ...rule, overrideMs: 1_234 })).toBe(1_234);
    expect(jobTimeoutMs({ maxTokens: 1_000 }, { ...rule, overrideMs: 1_234 })).toBe(1_234);
  });
});
