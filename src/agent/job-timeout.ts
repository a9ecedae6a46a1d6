import { DEFAULT_INFERENCE_TIMEOUT_MS } from './inference/inference.js';

/** Time allowed for the first token (queueing, prompt processing) before the rate applies. */
export const DEFAULT_TTFT_ALLOWANCE_MS = 30_000;
/**
 * How far under the product's rate floor a job may run before it is given up: a slow answer is
 * still delivered (recorded as a rate breach), one at a fraction of the floor is a stuck server.
 */
export const RATE_MARGIN = 2;
/** A report cannot carry a longer duration (the API's limit), so no job waits longer. */
export const MAX_JOB_TIMEOUT_MS = 86_400_000;

export interface TimeoutRule {
  /** `--job-timeout-ms`: one limit for every job, whatever it carries. */
  overrideMs?: number;
  ttftAllowanceMs: number;
}

/**
 * How long a job's inference call may take: the TTFT allowance plus its `maxTokens` at the
 * product's `minTokensPerSecond` (×RATE_MARGIN) when the lease names the floor; otherwise the
 * default, as before the floor was sent.
 */
export function jobTimeoutMs(job: { maxTokens: number; minTokensPerSecond?: number }, rule: TimeoutRule): number {
  if (rule.overrideMs !== undefined) return rule.overrideMs;
  const floor = job.minTokensPerSecond;
  if (floor === undefined || !Number.isFinite(floor) || floor <= 0) return DEFAULT_INFERENCE_TIMEOUT_MS;
  return Math.min(MAX_JOB_TIMEOUT_MS, rule.ttftAllowanceMs + Math.ceil((job.maxTokens * 1000 * RATE_MARGIN) / floor));
}
