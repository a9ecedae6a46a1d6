import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { Clock } from '../platform/time/clock.js';
import { CapacityViewService } from '../capacity/capacity-view.service.js';
import type { Exposure } from './domain/contract-math.js';
import { MembersRepository } from '../members/members.repository.js';
import { MarketsRepository, type NewTrade } from './markets.repository.js';
import { OrdersService } from './orders.service.js';
import { MarketStream } from './market-stream.service.js';
import { assertCapacityBacked, assertDeliveryRules, assertPrice, assertQuantity, assertTrading } from './pre-trade.js';

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

  async register(input: { seriesCode: string; buyerId: string; sellerId: string; priceFen: bigint; quantity: unknown }): Promise<NewTrade> {
    const quantity = assertQuantity(input.quantity);
    if (input.buyerId === input.sellerId) throw new DomainError('SELF_TRADE');
    const registered = await this.tx.run(async (tx) => {
      const series = await this.repo.seriesByCode(tx, input.seriesCode);
      if (!series) throw new DomainError('NOT_FOUND', `series ${input.seriesCode} not found`);
      const now = this.clock.now();
      assertTrading(series, now);
      assertPrice(series, input.priceFen);
      const members = await this.members.findByIds(tx, [input.buyerId, input.sellerId]);
      const buyer = members.find((m) => m.id === input.buyerId);
      const seller = members.find((m) => m.id === input.sellerId);
      if (!buyer || !seller || buyer.kind === 'CLEARING' || seller.kind === 'CLEARING')
        throw new DomainError('NOT_FOUND', 'member not found');
      for (const m of [buyer, seller]) if (m.status !== 'ACTIVE') throw new DomainError('MEMBER_SUSPENDED', `${m.name} is suspended`);
      await this.repo.lockSeries(tx, series.id);
      for (const [m, side] of [
        [buyer, 'BUY'],
        [seller, 'SELL'],
      ] as const) {
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
        id: randomUUID(),
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
      // Both sides agreed to the block: both pay as voluntary movements.
      await this.orders.post(tx, await this.orders.book(tx, series, [trade], `block.${trade.id}`, businessDate, [buyer.id, seller.id]));
      return trade;
    });
    this.stream.afterBlock(registered, input.seriesCode);
    return registered;
  }
}
