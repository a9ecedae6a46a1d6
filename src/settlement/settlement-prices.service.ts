import { dateColumn } from '../platform/time/business-date.js';
import { Inject, Injectable } from '@nestjs/common';
import type { Prisma } from '../generated/prisma/client.js';
import type { PriceMethod } from '../generated/prisma/enums.js';
import type { SeriesWithProduct } from '../markets/markets.repository.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import type { Db } from '../platform/prisma/prisma.service.js';
import { endOfBusinessDay, midFen, vwapFen } from './domain/settlement-math.js';
import { SettlementRepository } from './settlement.repository.js';

export interface DerivedPrice {
  priceFen: bigint;
  method: PriceMethod;
  details: Record<string, string | number>;
}

/**
 * The day's settlement price: a price fixed by clearing staff; else the VWAP of the last N
 * minutes of the day's trades; else the mid of best bid and ask; else the previous settlement
 * price (or the listing's reference price). Stored with how it was derived.
 */
@Injectable()
export class SettlementPricesService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repo: SettlementRepository,
  ) {}

  async derive(db: Db, series: SeriesWithProduct, businessDate: string): Promise<DerivedPrice> {
    const stored = await db.settlementPrice.findUnique({ where: { seriesId_businessDate: { seriesId: series.id, businessDate: dateColumn(businessDate) } } });
    if (stored) return { priceFen: stored.priceFen, method: stored.method, details: stored.details as Record<string, string | number> };
    const tick = series.product.tickFen;
    const end = endOfBusinessDay(businessDate, this.config.eodCutoff);
    const start = new Date(end.getTime() - this.config.settlement.vwapMinutes * 60_000);
    const vwap = vwapFen(await this.repo.windowVwapInputs(db, series.id, businessDate, start, end), tick);
    if (vwap !== undefined) return { priceFen: vwap, method: 'VWAP', details: { from: start.toISOString(), to: end.toISOString(), minutes: this.config.settlement.vwapMinutes } };
    const { bid, ask } = await this.repo.bestBidAsk(db, series.id);
    if (bid !== null && ask !== null) return { priceFen: midFen(bid, ask, tick), method: 'MID', details: { bid: bid.toString(), ask: ask.toString() } };
    const previous = await this.repo.previousPrice(db, series.id, businessDate);
    return { priceFen: previous ?? series.referencePriceFen, method: 'PREVIOUS', details: { source: previous === null ? 'referencePrice' : 'previous settlement price' } };
  }

  async store(db: Db, seriesId: string, businessDate: string, price: DerivedPrice): Promise<void> {
    await db.settlementPrice.upsert({
      where: { seriesId_businessDate: { seriesId, businessDate: dateColumn(businessDate) } },
      update: {},
      create: { seriesId, businessDate: dateColumn(businessDate), priceFen: price.priceFen, method: price.method, details: price.details as Prisma.InputJsonValue },
    });
  }
}
