import { createHash } from 'node:crypto';
import { basisPoints } from '../../platform/money/money.js';

/**
 * Verification by re-execution (SPEC §6.1). Which completed jobs are re-run is decided by the job
 * id alone, so the choice is reproducible and no node can know in advance which of its jobs will
 * be checked (ids are random UUIDs; the sample is not revealed before completion).
 */
function idBytes(jobId: string, purpose: string): Buffer {
  return createHash('sha256').update(`${purpose}:${jobId}`).digest();
}

/** A share of `verificationBp` basis points of jobs, chosen by a hash of the id. */
export function selectedForVerification(jobId: string, verificationBp: number): boolean {
  return idBytes(jobId, 'verify').readUInt32BE(0) % 10_000 < verificationBp;
}

/**
 * The sampling seed a job runs with, derived from its id: the original and its verification
 * re-run ask the inference server for the same seed (and temperature 0), so an honest node's
 * output can be reproduced. A positive 31-bit integer, which every OpenAI-compatible server takes.
 */
export function seedFor(jobId: string): number {
  return idBytes(jobId, 'seed').readUInt32BE(0) & 0x7fffffff;
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
