import { isoDate } from '../platform/time/business-date.js';
import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Order } from '../generated/prisma/client.js';
import { CapacityViewService } from '../capacity/capacity-view.service.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { HOUSE, memberAccount, type TransferRequest } from '../ledger/ledger.types.js';
import type { AuditEntry } from '../platform/audit/audit.repository.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { isUuid } from '../platform/http/ids.js';
import type { Principal } from '../platform/http/request-context.js';
import { PrismaService, type RawSql, type Tx } from '../platform/prisma/prisma.service.js';
import { Clock } from '../platform/time/clock.js';
import { type Exposure } from './domain/contract-math.js';
import { match, type Side } from './domain/matching.js';
import { MarginService } from './margin.service.js';
import { MarketsRepository, type NewTrade, type SeriesWithProduct } from './markets.repository.js';
import { assertCapacityBacked, assertDeliveryRules, assertPrice, assertQuantity, assertTrading } from './pre-trade.js';

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
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly repo: MarketsRepository,
    private readonly margin: MarginService,
    private readonly ledger: LedgerService,
    private readonly capacity: CapacityViewService,
    private readonly clock: Clock,
  ) {}

  /** An order placed before under this id (a replayed request), with the trades it produced. */
  async replay(id: string): Promise<PlacedOrder | null> {
    const existing = await this.repo.findOrder(this.prisma, id);
    if (!existing) return null;
    const trades = await this.repo.tradesOfOrder(this.prisma, existing.id);
    return { order: existing, trades: trades.map((t) => ({ ...t, businessDate: isoDate(t.businessDate) })) };
  }

  /**
   * One order in its own transaction. Orders normally go through `OrderBatcher`, which decides
   * the same way for many at once; this is the path a batch falls back to, order by order.
   */
  async placeOne(p: Principal, input: PlaceOrder): Promise<PlacedOrder> {
    const quantity = assertQuantity(input.quantity);
    if (input.id) {
      const replayed = await this.replay(input.id);
      if (replayed) return replayed;
    }
    return this.prisma.$transaction(
      async (tx) => {
        const series = await this.repo.seriesByCode(tx, input.seriesCode);
        if (!series) throw new DomainError('NOT_FOUND', `series ${input.seriesCode} not found`);
        const now = this.clock.now();
        assertTrading(series, now);
        assertPrice(series, input.priceFen);
        await this.repo.lockSeries(tx, series.id);

        const before = await this.repo.exposure(tx, p.memberId, series.id);
        const asResting: Exposure = {
          net: before.net,
          restingBuyQty: before.restingBuyQty + (input.side === 'BUY' ? quantity : 0),
          restingSellQty: before.restingSellQty + (input.side === 'SELL' ? quantity : 0),
        };
        assertDeliveryRules(series, p.memberKind, before, asResting, now, this.config.traderCutoffHours);
        if (p.memberKind === 'OPERATOR' && series.product.settlementType === 'PHYSICAL') {
          assertCapacityBacked(series, asResting, await this.capacity.deliverableTokens(p.memberId, series.product.modelClass, { start: series.deliveryStart, end: series.deliveryEnd }, series.product.regions));
        }

        const orderId = input.id ?? randomUUID();
        const book = await this.repo.crossingOrders(tx, series.id, input.side, input.priceFen);
        const result = match({ memberId: p.memberId, side: input.side, priceFen: input.priceFen, quantity }, book);
        const filled = quantity - result.remaining;
        const rests = input.timeInForce === 'GTC' && result.remaining > 0;
        let order: Order;
        try {
          order = await this.repo.createOrder(tx, {
            id: orderId,
            seriesId: series.id,
            memberId: p.memberId,
            side: input.side,
            priceFen: input.priceFen,
            quantity,
            filledQuantity: filled,
            status: filled === quantity ? 'FILLED' : rests ? (filled > 0 ? 'PARTIALLY_FILLED' : 'OPEN') : 'CANCELLED',
            timeInForce: input.timeInForce,
            clientOrderId: input.clientOrderId,
            cancelReason: rests || filled === quantity ? undefined : 'IOC_REMAINDER',
          });
        } catch (err) {
          if ((err as { code?: string }).code === 'P2002') throw new DomainError('DUPLICATE_CLIENT_ORDER_ID');
          throw err;
        }
        await this.repo.cancelOrders(tx, result.selfTradeCancelled, 'SELF_TRADE_PREVENTION');
        await this.repo.applyFills(tx, result.fills.map((f) => ({ orderId: f.restingId, quantity: f.quantity })));

        const businessDate = this.clock.businessDate(now);
        const trades: NewTrade[] = result.fills.map((f) => ({
          id: randomUUID(),
          seriesId: series.id,
          priceFen: f.priceFen,
          quantity: f.quantity,
          buyerId: input.side === 'BUY' ? p.memberId : f.counterpartyId,
          sellerId: input.side === 'SELL' ? p.memberId : f.counterpartyId,
          buyOrderId: input.side === 'BUY' ? orderId : f.restingId,
          sellOrderId: input.side === 'SELL' ? orderId : f.restingId,
          block: false,
          businessDate,
          createdAt: now,
        }));
        const transfers = await this.book(tx, series, trades, `order.${orderId}`, businessDate, [p.memberId]);
        await this.post(tx, transfers);
        return { order, trades };
      },
      { timeout: 30_000 },
    );
  }

  /**
   * Records trades against the CCP: positions, fees (each side to ccp:fees) and the margin of
   * every member involved. Members who chose this event (an order's aggressor, both parties of a
   * block) pay their fees voluntarily; a resting order's owner is charged by right (its cash may go
   * below zero: a margin call, not a broken trade).
   */
  async book(tx: Tx, series: SeriesWithProduct, trades: NewTrade[], eventKey: string, businessDate: string, voluntary: readonly string[]): Promise<TransferRequest[]> {
    await this.repo.insertTrades(tx, trades);
    const members = new Set<string>(voluntary);
    const transfers: TransferRequest[] = [];
    const fee = series.product.feePerContractFen;
    await this.repo.addTradesToPositions(tx, series.id, trades);
    for (const t of trades) {
      members.add(t.buyerId).add(t.sellerId);
      if (fee > 0n) {
        for (const [side, memberId] of [['buy', t.buyerId], ['sell', t.sellerId]] as const) {
          transfers.push({
            idempotencyKey: `trade.${t.id}.fee.${side}`,
            debit: memberAccount(memberId, 'CASH'),
            credit: HOUSE.ccpFees,
            amountFen: fee * BigInt(t.quantity),
            kind: 'FEE',
            businessDate,
            refs: { tradeId: t.id },
            collectByRight: !voluntary.includes(memberId),
          });
        }
      }
    }
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

  async cancel(p: Principal, orderId: string): Promise<Order> {
    return this.prisma.$transaction(async (tx) => {
      const found = isUuid(orderId) ? await this.repo.findOrder(tx, orderId) : null;
      if (!found || (p.role !== 'clearing' && found.memberId !== p.memberId)) throw new DomainError('NOT_FOUND', 'order not found');
      const series = (await this.repo.seriesById(tx, found.seriesId))!;
      await this.repo.lockSeries(tx, series.id);
      const order = (await this.repo.findOrder(tx, orderId))!;
      if (order.status !== 'OPEN' && order.status !== 'PARTIALLY_FILLED') throw new DomainError('ORDER_NOT_OPEN', `order is ${order.status}`);
      await this.repo.cancelOrders(tx, [order.id], p.role === 'clearing' ? 'CLEARING' : 'MEMBER');
      const release = await this.margin.rebalance(tx, series, order.memberId, `cancel.${order.id}`, this.clock.businessDate());
      if (release) await this.ledger.postBatch(tx, [release]);
      return (await this.repo.findOrder(tx, orderId))!;
    });
  }
}
