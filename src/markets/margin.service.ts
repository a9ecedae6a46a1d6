import { Injectable } from '@nestjs/common';
import { memberAccount, type TransferRequest } from '../ledger/ledger.types.js';
import type { Tx } from '../platform/prisma/prisma.service.js';
import { initialMarginFen, type Exposure } from './domain/contract-math.js';
import { MarketsRepository, type SeriesWithProduct } from './markets.repository.js';

/** Margin price: the last daily settlement price, or the listing's reference price before one exists. */
export function marginPriceFen(series: SeriesWithProduct): bigint {
  return series.lastSettlementPriceFen ?? series.referencePriceFen;
}

export function requiredMargin(series: SeriesWithProduct, e: Exposure): bigint {
  return initialMarginFen(e, marginPriceFen(series), series.product.contractSizeTokens, series.product.initialMarginBp);
}

/**
 * Brings a member's margin held in a series to what its exposure now requires: cash → margin as
 * exposure grows, back as it shrinks. Returns the transfer to post (none when nothing changes).
 */
@Injectable()
export class MarginService {
  constructor(private readonly repo: MarketsRepository) {}

  /** `toZero`: final settlement releases everything, whatever the exposure. */
  async rebalance(tx: Tx, series: SeriesWithProduct, memberId: string, eventKey: string, businessDate: string, toZero = false): Promise<TransferRequest | undefined> {
    const exposure = await this.repo.exposure(tx, memberId, series.id);
    const required = toZero ? 0n : requiredMargin(series, exposure);
    const delta = required - exposure.marginHeldFen;
    if (delta === 0n) return undefined;
    await this.repo.setMarginHeld(tx, memberId, series.id, required);
    const cash = memberAccount(memberId, 'CASH');
    const margin = memberAccount(memberId, 'MARGIN');
    return delta > 0n
      ? { idempotencyKey: `${eventKey}.margin.${memberId}`, debit: cash, credit: margin, amountFen: delta, kind: 'MARGIN_LOCK', businessDate }
      : { idempotencyKey: `${eventKey}.margin.${memberId}`, debit: margin, credit: cash, amountFen: -delta, kind: 'MARGIN_RELEASE', businessDate };
  }
}
