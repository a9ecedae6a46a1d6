import { Injectable } from '@nestjs/common';
import { memberAccount, type TransferRequest } from '../ledger/ledger.types.js';
import type { Tx } from '../platform/prisma/prisma.service.js';
import { marginForContractsFen, worstCaseContracts } from './domain/contract-math.js';
import { MarketsRepository, type SeriesWithProduct } from './markets.repository.js';
import { portfolioMargin } from '../risk/domain/portfolio-margin.js';
import { hasPortfolioMargin, productRisk } from './domain/risk-params.js';
import { PortfolioRepository } from './portfolio.repository.js';

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
  constructor(
    private readonly repo: MarketsRepository,
    private readonly portfolio: PortfolioRepository,
  ) {}

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
    const delta = new Map<string, bigint>();
    for (const c of changes) delta.set(c.memberId, heldMarginFen(series, c.after, c.price) - heldMarginFen(series, c.before, c.price));
    for (const [memberId, d] of await this.adjust(tx, series, memberIds)) delta.set(memberId, (delta.get(memberId) ?? 0n) + d);
    return [...delta].filter(([, d]) => d !== 0n).map(([memberId, d]) => marginTransfer(memberId, d, eventKey, businessDate));
  }

  /**
   * Portfolio products: the members' adjustments (IM − Σ outright) recomputed from their margined
   * legs now (a cancel, a block trade, a halt or an expiry's release changed one), written; the changes.
   */
  private async adjust(tx: Tx, series: SeriesWithProduct, memberIds: string[]): Promise<Map<string, bigint>> {
    if (!hasPortfolioMargin(series.product) || memberIds.length === 0) return new Map();
    const risk = productRisk(series.product);
    const [legs, held] = await Promise.all([
      this.portfolio.legs(tx, memberIds, series.productId, risk.concentrationAddOnBp > 0),
      this.portfolio.adjustments(tx, memberIds, series.productId),
    ]);
    const changes = memberIds
      .map((memberId) => {
        const m = portfolioMargin(legs.get(memberId)!, risk);
        return { memberId, deltaFen: m.totalFen - m.outrightFen - (held.get(memberId) ?? 0n) };
      })
      .filter((c) => c.deltaFen !== 0n);
    await this.portfolio.addAdjustments(tx, series.productId, changes);
    return new Map(changes.map((c) => [c.memberId, c.deltaFen]));
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
