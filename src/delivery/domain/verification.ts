import { createHmac } from 'node:crypto';
import { basisPoints } from '../../platform/money/money.js';

/**
 * Verification by re-execution (SPEC §6.1): a share of `verificationBp` basis points of completed
 * jobs, chosen by an HMAC of the job id under the clearing house's sampling key. A node knows the
 * id of every job it leases and this code is public: chosen by an unkeyed hash of the id, the
 * sample was the node's to compute, and a dishonest node could cheat on every job it knew would
 * not be re-run. Keyed, the choice is reproducible by the clearing house (same key, same sample)
 * and unknown to the node until the re-run exists.
 */
export function selectedForVerification(jobId: string, verificationBp: number, samplingKey: string): boolean {
  return keyedWord(samplingKey, jobId) % 10_000 < verificationBp;
}

/** The first 32 bits of HMAC-SHA256(key, input): what only the holder of the key can compute. */
function keyedWord(key: string, input: string): number {
  return createHmac('sha256', key).update(input).digest().readUInt32BE(0);
}

/**
 * The sampling seed a job runs with, derived from its id under the same key: the original and its
 * verification re-run ask the inference server for the same seed (and temperature 0), so an honest
 * node's output can be reproduced. Keyed, so no node can tell a re-run from a job by checking the
 * seed it was given against its id. A positive 31-bit integer, which every OpenAI-compatible
 * server takes.
 */
export function seedFor(jobId: string, key: string): number {
  return keyedWord(key, `seed:${jobId}`) & 0x7fffffff;
}

export type VerificationVerdict = 'PASSED' | 'FAILED';

export function verdict(similarityBp: number, thresholdBp: number): VerificationVerdict {
  return similarityBp >= thresholdBp ? 'PASSED' : 'FAILED';
}

/** What `tokens` billable tokens are worth at the obligation's price (notional / tokens), rounded down. */
export function valueAtObligationPrice(o: { notionalFen: bigint; tokens: bigint }, tokens: bigint): bigint {
  return o.tokens > 0n ? (o.notionalFen * tokens) / o.tokens : 0n;
}

/**
 * A failed verification's penalty: the product's penaltyBp of the job's value (the original's
 * billable tokens at the obligation price), rounded against the seller as window-close penalties are.
 */
export function verificationPenaltyFen(o: { notionalFen: bigint; tokens: bigint }, originalBillable: bigint, penaltyBp: number): bigint {
  return basisPoints(valueAtObligationPrice(o, originalBillable), penaltyBp, 'against-member');
}
