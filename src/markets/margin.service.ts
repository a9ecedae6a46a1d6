import { Injectable } from '@nestjs/common';
import { memberAccount, type TransferRequest } from '../ledger/ledger.types.js';
import type { Tx } from '../platform/prisma/prisma.service.js';
import { marginForContractsFen, worstCaseContracts } from './domain/contract-math.js';
import { MarketsRepository, type SeriesWithProduct } from './markets.repository.js';

/** Margin price: the last daily settlement price, or the listing's reference price before one exists. */
export function marginPriceFen(series: SeriesWithProduct): bigint {
  return series.lastSettlementPriceFen ?? series.referencePriceFen;
}

/** The fen held for `marginQty` worst-case contracts at a margin price. */
export function heldMarginFen(series: SeriesWithProduct, marginQty: number, priceFen: bigint = marginPriceFen(series)): bigint {
  return marginForContractsFen(marginQty, priceFen, series.product.contractSizeTokens, series.product.initialMarginBp);
}

/**
 * Brings a member's margin held in a series to what its exposure now requires: cash → margin as
 * exposure grows, back as it shrinks. Returns the transfer to post (none when nothing changes).
 */
@Injectable()
export class MarginService {
  constructor(private readonly repo: MarketsRepository) {}

  async rebalance(
    tx: Tx,
    series: SeriesWithProduct,
    memberId: string,
    eventKey: string,
    businessDate: string,
  ): Promise<TransferRequest | undefined> {
    const [t] = await this.rebalanceMany(tx, series, [memberId], eventKey, businessDate);
    return t;
  }

  /**
   * The same for many members in two statements (settlement over large books). `toZero`: final
   * settlement releases everything, whatever the exposure. The caller holds the series lock;
   * both the margin held and the margin required are valued at the price committed now.
   */
  async rebalanceMany(
    tx: Tx,
    series: SeriesWithProduct,
    memberIds: string[],
    eventKey: string,
    businessDate: string,
    toZero = false,
  ): Promise<TransferRequest[]> {
    const changes = (await this.repo.exposures(tx, series.id, memberIds))
      .map((e) => ({ memberId: e.memberId, price: e.marginPriceFen, before: e.marginQty, after: toZero ? 0 : worstCaseContracts(e) }))
      .filter((c) => c.after !== c.before);
    await this.repo.setMarginQtyMany(
      tx,
      series.id,
      changes.map((c) => ({ memberId: c.memberId, marginQty: c.after })),
    );
    return changes
      .map((c) => ({ memberId: c.memberId, delta: heldMarginFen(series, c.after, c.price) - heldMarginFen(series, c.before, c.price) }))
      .filter((c) => c.delta !== 0n)
      .map((c) => marginTransfer(c.memberId, c.delta, eventKey, businessDate));
  }
}

/** A change of margin held: cash → margin when it grows, back when it shrinks. */
export function marginTransfer(memberId: string, delta: bigint, eventKey: string, businessDate: string): TransferRequest {
  const cash = memberAccount(memberId, 'CASH');
  const margin = memberAccount(memberId, 'MARGIN');
  return delta > 0n
    ? { idempotencyKey: `${eventKey}.margin.${memberId}`, debit: cash, credit: margin, amountFen: delta, kind: 'MARGIN_LOCK', businessDate }
    : {
        idempotencyKey: `${eventKey}.margin.${memberId}`,
        debit: margin,
        credit: cash,
        amountFen: -delta,
        kind: 'MARGIN_RELEASE',
        businessDate,
      };
}
