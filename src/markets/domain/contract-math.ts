import { basisPoints } from '../../platform/money/money.js';

export const TOKENS_PER_PRICE_UNIT = 1_000_000n;

/** Prices are CNY per 1,000,000 tokens; a contract is contractSizeTokens (a multiple of 1M). */
export function multiplier(contractSizeTokens: bigint): bigint {
  return contractSizeTokens / TOKENS_PER_PRICE_UNIT;
}

/** notional_fen(price, qty) = price_fen × (contractSizeTokens / 1,000,000) × qty — exact. */
export function notionalFen(priceFen: bigint, quantity: bigint | number, contractSizeTokens: bigint): bigint {
  return priceFen * multiplier(contractSizeTokens) * BigInt(quantity);
}

export interface Exposure {
  /** long − short contracts */
  net: number;
  restingBuyQty: number;
  restingSellQty: number;
}

/** Contracts at risk if every resting order on the worse side filled. */
export function worstCaseContracts(e: Exposure): number {
  const worstLong = Math.max(0, e.net + e.restingBuyQty);
  const worstShort = Math.max(0, e.restingSellQty - e.net);
  return Math.max(worstLong, worstShort);
}

/**
 * Initial margin of a number of worst-case contracts (position plus resting orders on the
 * worse side — `worstCaseContracts`): notional × initialMarginBp / 10,000, rounded up (against
 * the member). The daily run computes the same in SQL (`DailySettlementRepository.netted`);
 * test/settlement/netted.spec.ts checks the two agree.
 */
export function marginForContractsFen(
  contracts: number,
  marginPriceFen: bigint,
  contractSizeTokens: bigint,
  initialMarginBp: number,
): bigint {
  return basisPoints(notionalFen(marginPriceFen, contracts, contractSizeTokens), initialMarginBp, 'against-member');
}
