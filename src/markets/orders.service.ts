import { isoDate } from '../platform/time/business-date.js';
import { Injectable } from '@nestjs/common';
import type { Order } from '../generated/prisma/client.js';
import { LedgerService } from '../ledger/ledger.service.js';
import type { TransferRequest } from '../ledger/ledger.types.js';
import type { AuditEntry } from '../platform/audit/audit.repository.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { isUuid } from '../platform/http/ids.js';
import type { Principal } from '../platform/http/request-context.js';
import type { RawSql, Tx } from '../platform/prisma/prisma.service.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { Clock } from '../platform/time/clock.js';
import type { Side } from './domain/matching.js';
import { feeTransfers } from './fees.js';
import { MarginService } from './margin.service.js';
import { MarketStream } from './market-stream.service.js';
import { MarketsRepository, type NewTrade, type SeriesWithProduct } from './markets.repository.js';

export interface PlaceOrder {
  seriesCode: string;
  side: Side;
  priceFen: bigint;
  quantity: unknown;
  timeInForce: 'GTC' | 'IOC';
  clientOrderId?: string;
  /** Set when the request carried an Idempotency-Key (see idForRequest). */
  id?: string;
  /** The request's success audit event (its target, the order, is filled in when placed). */
  audit?: AuditEntry;
}

export interface PlacedOrder {
  order: Order;
  trades: NewTrade[];
  /** True when `audit` was written in the order's own transaction. */
  audited?: boolean;
}

@Injectable()
export class OrdersService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: MarketsRepository,
    private readonly margin: MarginService,
    private readonly ledger: LedgerService,
    private readonly clock: Clock,
    private readonly stream: MarketStream,
  ) {}

  /** An order placed before under this id (a replayed request), with the trades it produced. */
  async replay(id: string): Promise<PlacedOrder | null> {
    const existing = await this.repo.findOrder(this.tx.root, id);
    if (!existing) return null;
    const trades = await this.repo.tradesOfOrder(this.tx.root, existing.id);
    return { order: existing, trades: trades.map((t) => ({ ...t, businessDate: isoDate(t.businessDate) })) };
  }

  /**
   * Records trades against the CCP: positions, fees (each side to ccp:fees) and the margin of
   * every member involved. Members who chose this event (an order's aggressor, both parties of a
   * block) pay their fees voluntarily; a resting order's owner is charged by right (its cash may go
   * below zero: a margin call, not a broken trade).
   */
  async book(
    tx: Tx,
    series: SeriesWithProduct,
    trades: NewTrade[],
    eventKey: string,
    businessDate: string,
    voluntary: readonly string[],
  ): Promise<TransferRequest[]> {
    await this.repo.insertTrades(tx, trades);
    const members = new Set<string>(voluntary);
    await this.repo.addTradesToPositions(tx, series.id, trades);
    const transfers = trades.flatMap((t) => {
      members.add(t.buyerId).add(t.sellerId);
      return feeTransfers(t, series.product.feePerContractFen, businessDate, (m) => voluntary.includes(m));
    });
    // Margin last, after positions and fills: it reflects the member's state after the event.
    transfers.push(...(await this.margin.rebalanceMany(tx, series, [...members].sort(), eventKey, businessDate)));
    return transfers;
  }

  /** Posts an event's money; a shortfall of free cash is the member's INSUFFICIENT_MARGIN. */
  async post(tx: RawSql, transfers: TransferRequest[]): Promise<void> {
    try {
      await this.ledger.postBatch(tx, transfers);
    } catch (err) {
      if (err instanceof DomainError && err.code === 'INSUFFICIENT_FUNDS') {
        throw new DomainError('INSUFFICIENT_MARGIN', 'free cash does not cover the initial margin of the worst-case position and the fees');
      }
      throw err;
    }
  }

  /**
   * Cancels every resting order of a member inside the caller's transaction (a declared default),
   * series by series under each series' lock, releasing the margin they held. Returns how many.
   */
  async cancelAllOf(tx: Tx, memberId: string, reason: string, eventKey: string): Promise<number> {
    const orders = await this.repo.restingOrdersOf(tx, memberId);
    const bySeries = new Map<string, string[]>();
    for (const o of orders) bySeries.set(o.seriesId, [...(bySeries.get(o.seriesId) ?? []), o.id]);
    const businessDate = this.clock.businessDate();
    for (const seriesId of [...bySeries.keys()].sort()) {
      await this.repo.lockSeries(tx, seriesId);
      const series = (await this.repo.seriesById(tx, seriesId))!;
      await this.repo.cancelOrders(tx, bySeries.get(seriesId)!, reason);
      const release = await this.margin.rebalance(tx, series, memberId, `${eventKey}.${seriesId}`, businessDate);
      if (release) await this.ledger.postBatch(tx, [release]);
    }
    return orders.length;
  }

  async cancel(p: Principal, orderId: string): Promise<Order> {
    let seriesCode = '';
    const cancelled = await this.tx.run(async (tx) => {
      const found = isUuid(orderId) ? await this.repo.findOrder(tx, orderId) : null;
      if (!found || (p.role !== 'clearing' && found.memberId !== p.memberId)) throw new DomainError('NOT_FOUND', 'order not found');
      const series = (await this.repo.seriesById(tx, found.seriesId))!;
      seriesCode = series.code;
      await this.repo.lockSeries(tx, series.id);
      const order = (await this.repo.findOrder(tx, orderId))!;
      if (order.status !== 'OPEN' && order.status !== 'PARTIALLY_FILLED')
        throw new DomainError('ORDER_NOT_OPEN', `order is ${order.status}`);
      await this.repo.cancelOrders(tx, [order.id], p.role === 'clearing' ? 'CLEARING' : 'MEMBER');
      const release = await this.margin.rebalance(tx, series, order.memberId, `cancel.${order.id}`, this.clock.businessDate());
      if (release) await this.ledger.postBatch(tx, [release]);
      return (await this.repo.findOrder(tx, orderId))!;
    });
    this.stream.afterCancel(cancelled, seriesCode);
    return cancelled;
  }
}
