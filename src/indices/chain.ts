import { fixingHash } from './domain/fixing.js';
import type { ChainLink, NewFixing } from './indices.repository.js';

/** The link a fixing takes after the chain's head (the caller holds the index's lock). */
export function nextLink(head: ChainLink | null, f: NewFixing): ChainLink {
  const prevHash = head?.hash ?? null;
  return {
    chainSeq: (head?.chainSeq ?? 0n) + 1n,
    prevHash,
    hash: fixingHash(prevHash, {
      indexCode: f.indexCode,
      businessDate: f.businessDate,
      priceFen: f.priceFen,
      method: f.method,
      volumeTokens: f.volumeTokens,
      inputs: f.inputs,
      correctsId: f.correctsId,
      reason: f.reason,
    }),
  };
}
