import { Injectable } from '@nestjs/common';
import type { IndexFixing } from '../generated/prisma/client.js';
import { MarketsRepository, type SeriesWithProduct } from '../markets/markets.repository.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { DailySettlementRepository } from './daily-settlement.repository.js';
import { SettlementRepository } from './settlement.repository.js';

/** Prices clearing staff set by hand: a day's settlement price before its run, a cash series' index fixing. */
@Injectable()
export class PriceFixingsService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly markets: MarketsRepository,
    private readonly prices: SettlementRepository,
    private readonly dailyRuns: DailySettlementRepository,
  ) {}

  /** Refused once the date's run of the series is RUNNING or COMPLETED: the price it uses is settled. */
  async fixPrice(code: string, businessDate: string, priceFen: bigint): Promise<void> {
    const series = await this.onTick(code, priceFen);
    const covering = await this.dailyRuns.coveringRun(this.tx.root, series.id, businessDate);
    const done = covering && (covering.status === 'RUNNING' || covering.status === 'COMPLETED') ? covering : null;
    if (done) throw new DomainError('SETTLEMENT_RUN_COMPLETED', `the ${businessDate} run is already ${done.status}`);
    await this.prices.fixPrice(this.tx.root, series.id, businessDate, priceFen);
  }

  async recordIndexFixing(code: string, f: { priceFen: bigint; source: string; asOf: Date; createdBy: string }): Promise<IndexFixing> {
    const series = await this.onTick(code, f.priceFen);
    return this.prices.createIndexFixing(this.tx.root, { seriesId: series.id, ...f });
  }

  private async onTick(code: string, priceFen: bigint): Promise<SeriesWithProduct> {
    const series = await this.markets.seriesByCode(this.tx.root, code);
    if (!series) throw new DomainError('NOT_FOUND', `series ${code} not found`);
    if (priceFen % series.product.tickFen !== 0n)
      throw new DomainError('OFF_TICK', 'price is not on the tick', [{ field: 'price', message: 'off tick' }]);
    return series;
  }
}
