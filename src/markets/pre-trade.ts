import { DomainError } from '../platform/errors/error-codes.js';
import { worstCaseContracts, type Exposure } from './domain/contract-math.js';
import type { SeriesWithProduct } from './markets.repository.js';

export const MAX_ORDER_QUANTITY = 1_000_000;

export function assertQuantity(quantity: unknown, field = 'quantity'): number {
  if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1 || quantity > MAX_ORDER_QUANTITY) {
    throw new DomainError('INVALID_QUANTITY', `${field} must be a whole number of contracts from 1 to ${MAX_ORDER_QUANTITY}`, [
      { field, message: 'invalid quantity' },
    ]);
  }
  return quantity;
}

/** Trading is open from tradingStartAt until lastTradingAt, unless the series already halted. */
export function assertTrading(series: SeriesWithProduct, now: Date): void {
  const open = (series.status === 'LISTED' || series.status === 'TRADING') && now >= series.tradingStartAt && now < series.lastTradingAt;
  if (!open)
    throw new DomainError(
      'SERIES_NOT_TRADING',
      `${series.code} is ${series.status === 'LISTED' && now < series.tradingStartAt ? 'not open yet' : 'closed for trading'}`,
    );
}

export function assertPrice(series: SeriesWithProduct, priceFen: bigint): void {
  if (priceFen % series.product.tickFen !== 0n) {
    throw new DomainError('OFF_TICK', `price must be a multiple of ${series.product.tickFen} fen`, [
      { field: 'price', message: 'off tick' },
    ]);
  }
  const bp = series.product.dailyPriceLimitBp;
  if (bp === null) return;
  const base = series.lastSettlementPriceFen ?? series.referencePriceFen;
  // The band is rounded inward, so a price at the edge never exceeds the stated percentage.
  const band = (base * BigInt(bp)) / 10_000n;
  if (priceFen < base - band || priceFen > base + band) {
    throw new DomainError('PRICE_LIMIT', `price must lie within ${base - band}..${base + band} fen today`, [
      { field: 'price', message: 'outside daily limit' },
    ]);
  }
}

/**
 * Who may hold what in a physically delivered series: a BUYER never short beyond its longs;
 * a TRADER may not increase its exposure within the cut-off before last trading.
 */
export function assertDeliveryRules(
  series: SeriesWithProduct,
  memberKind: string,
  before: Exposure,
  after: Exposure,
  now: Date,
  traderCutoffHours: number,
): void {
  if (series.product.settlementType !== 'PHYSICAL') return;
  if (memberKind === 'BUYER' && after.restingSellQty > after.net) {
    throw new DomainError('DELIVERY_NOT_ALLOWED', 'a buyer may not sell more than it holds long in a physically delivered series');
  }
  const cutoff = new Date(series.lastTradingAt.getTime() - traderCutoffHours * 3_600_000);
  if (memberKind === 'TRADER' && now >= cutoff && worstCaseContracts(after) > worstCaseContracts(before)) {
    throw new DomainError(
      'DELIVERY_NOT_ALLOWED',
      `traders may only reduce positions in the last ${traderCutoffHours} h before last trading`,
    );
  }
}

/**
 * An OPERATOR's worst-case short in a PHYSICAL series must be deliverable by its registered
 * nodes in the window (`deliverableTokens`, from the capacity registry).
 */
export function assertCapacityBacked(series: SeriesWithProduct, after: Exposure, deliverableTokens: bigint): void {
  if (series.product.settlementType !== 'PHYSICAL') return;
  const shortContracts = Math.max(0, after.restingSellQty - after.net);
  if (shortContracts === 0) return;
  const needed = BigInt(shortContracts) * series.product.contractSizeTokens;
  if (needed > deliverableTokens) {
    throw new DomainError(
      'CAPACITY_NOT_BACKED',
      `a short of ${needed} tokens exceeds the ${deliverableTokens} tokens your registered ${series.product.modelClass} nodes can deliver in the window`,
    );
  }
}
