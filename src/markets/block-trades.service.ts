import { MarketStream } from './market-stream.service.js';
import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { memberAccount } from '../ledger/ledger.types.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import type { Tx } from '../platform/prisma/prisma.service.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { Clock } from '../platform/time/clock.js';
import { CapacityViewService } from '../capacity/capacity-view.service.js';
import type { Exposure } from './domain/contract-math.js';
import { MembersRepository } from '../members/members.repository.js';
import { MarketsRepository, type NewTrade } from './markets.repository.js';
import { OrdersService } from './orders.service.js';
import { assertCapacityBacked, assertDeliveryRules, assertPrice, assertQuantity, assertTrading } from './pre-trade.js';

/**
 * A default close-out trade (SPEC §6.4): the defaulter (suspended) against an auction winner
 * (AWARD) or a holder of the opposite side (TEAR_UP, at the last settlement price: no fees, no
 * checks — the holder's position only shrinks). The defaulter's margin stays in its margin account
 * for the waterfall to take; its fees are collected by right.
 */
export interface CloseOut {
  defaulterId: string;
  kind: 'AWARD' | 'TEAR_UP';
}

export interface BlockTradeInput {
  seriesCode: string;
  buyerId: string;
  sellerId: string;
  priceFen: bigint;
  quantity: unknown;
  /** Trade id (deterministic for close-outs, so a retried close finds its own trades). */
  id?: string;
}

/** A pre-agreed trade registered by clearing staff: every pre-trade check but the book. */
@Injectable()
export class BlockTradesService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly repo: MarketsRepository,
    private readonly members: MembersRepository,
    private readonly orders: OrdersService,
    private readonly capacity: CapacityViewService,
    private readonly clock: Clock,
    private readonly stream: MarketStream,
  ) {}

  async register(input: BlockTradeInput): Promise<NewTrade> {
    const registered = await this.tx.run((tx) => this.registerIn(tx, input));
    // Published once committed (a close-out inside a default's transaction publishes nothing here).
    this.stream.afterBlock(registered, input.seriesCode);
    return registered;
  }

  /** The same inside the caller's transaction; `closeOut` for a defaulter's close-out trades. */
  async registerIn(tx: Tx, input: BlockTradeInput, closeOut?: CloseOut): Promise<NewTrade> {
    const quantity = assertQuantity(input.quantity);
    if (input.buyerId === input.sellerId) throw new DomainError('SELF_TRADE');
    {
      const series = await this.repo.seriesByCode(tx, input.seriesCode);
      if (!series) throw new DomainError('NOT_FOUND', `series ${input.seriesCode} not found`);
      const now = this.clock.now();
      if (!closeOut) {
        assertTrading(series, now);
        assertPrice(series, input.priceFen);
      }
      const members = await this.members.findByIds(tx, [input.buyerId, input.sellerId]);
      const buyer = members.find((m) => m.id === input.buyerId);
      const seller = members.find((m) => m.id === input.sellerId);
      if (!buyer || !seller || buyer.kind === 'CLEARING' || seller.kind === 'CLEARING')
        throw new DomainError('NOT_FOUND', 'member not found');
      const checked = [buyer, seller].filter((m) => m.id !== closeOut?.defaulterId);
      for (const m of checked) if (m.status !== 'ACTIVE') throw new DomainError('MEMBER_SUSPENDED', `${m.name} is suspended`);
      await this.repo.lockSeries(tx, series.id);
      for (const [m, side] of [
        [buyer, 'BUY'],
        [seller, 'SELL'],
      ] as const) {
        if (closeOut && (closeOut.kind === 'TEAR_UP' || m.id === closeOut.defaulterId)) continue;
        const before = await this.repo.exposure(tx, m.id, series.id);
        const net = before.net + (side === 'BUY' ? quantity : -quantity);
        const after: Exposure = { net, restingBuyQty: before.restingBuyQty, restingSellQty: before.restingSellQty };
        assertDeliveryRules(series, m.kind, before, after, now, this.config.traderCutoffHours);
        if (series.product.settlementType === 'PHYSICAL' && m.kind === 'OPERATOR') {
          assertCapacityBacked(
            series,
            after,
            await this.capacity.deliverableTokens(
              m.id,
              series.product.modelClass,
              { start: series.deliveryStart, end: series.deliveryEnd },
              series.product.regions,
            ),
          );
        }
      }
      const businessDate = this.clock.businessDate(now);
      const trade: NewTrade = {
        id: input.id ?? randomUUID(),
        seriesId: series.id,
        priceFen: input.priceFen,
        quantity,
        buyerId: buyer.id,
        sellerId: seller.id,
        buyOrderId: null,
        sellOrderId: null,
        block: true,
        businessDate,
        createdAt: now,
      };
      if (!closeOut) {
        // Both sides agreed to the block: both pay as voluntary movements.
        await this.orders.post(tx, await this.orders.book(tx, series, [trade], `block.${trade.id}`, businessDate, [buyer.id, seller.id]));
        return trade;
      }
      const booked = await this.orders.book(tx, series, [trade], `block.${trade.id}`, businessDate, []);
      const moves = booked
        // The defaulter's margin is the waterfall's first layer: it stays where it is.
        .filter((t) => !(t.kind === 'MARGIN_RELEASE' && t.debit === memberAccount(closeOut.defaulterId, 'MARGIN')))
        .filter((t) => !(closeOut.kind === 'TEAR_UP' && t.kind === 'FEE'))
        // Close-outs are not voluntary for anyone: a shortfall is a margin call, never a failed close.
        .map((t) => ({ ...t, collectByRight: true }));
      await this.orders.post(tx, moves);
      return trade;
    }
  }
}
