import { Inject, Injectable } from '@nestjs/common';
import type { SettlementRun } from '../generated/prisma/client.js';
import type { SettlementRunType } from '../generated/prisma/enums.js';
import { MarketsRepository } from '../markets/markets.repository.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { businessDateOf } from '../platform/time/business-date.js';
import { Clock } from '../platform/time/clock.js';
import { DailyRunStarts } from './daily-run-starts.service.js';
import { FinalPriceService } from './final-price.service.js';
import { SettlementRunsRepository } from './settlement-runs.repository.js';

/**
 * Starting a run, by clearing staff or a schedule: checks the series is due, then records the run
 * and its job in one transaction (or returns the run already started). EXPIRY and DELIVERY_CLOSE
 * are one run per series; DAILY goes to `DailyRunStarts`.
 */
@Injectable()
export class RunStartService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly runs: SettlementRunsRepository,
    private readonly markets: MarketsRepository,
    private readonly daily: DailyRunStarts,
    private readonly outbox: OutboxService,
    private readonly clock: Clock,
    private readonly finalPrices: FinalPriceService,
  ) {}

  /** Starts (or returns) the run for a series and date; the work happens in a worker job. */
  async start(type: SettlementRunType, seriesCode: string, businessDate: string | undefined, requestedBy?: string): Promise<SettlementRun> {
    const series = await this.markets.seriesByCode(this.tx.root, seriesCode);
    if (!series) throw new DomainError('NOT_FOUND', `series ${seriesCode} not found`);
    let day: string;
    let phase = 'VM';
    if (type === 'EXPIRY') {
      if (this.clock.now() < series.lastTradingAt)
        throw new DomainError('SERIES_NOT_EXPIRED', `${series.code} trades until ${series.lastTradingAt.toISOString()}`);
      day = businessDateOf(series.lastTradingAt, this.config.eodCutoff);
      // A physical series falls back on its last settlement price; a cash one needs a fixing
      // (clearing's, or its token index's of the last trading date): INDEX_FIXING_MISSING otherwise.
      if (series.product.settlementType === 'CASH') await this.finalPrices.finalPrice(series, day);
    } else if (type === 'DELIVERY_CLOSE') {
      if (series.product.settlementType !== 'PHYSICAL')
        throw new DomainError('SETTLEMENT_TYPE_MISMATCH', `${series.code} is cash-settled: there is no delivery window`);
      if (this.clock.now() < series.deliveryEnd)
        throw new DomainError('DELIVERY_WINDOW_OPEN', `${series.code} delivers until ${series.deliveryEnd.toISOString()}`);
      if (!(await this.runs.completedExpiry(this.tx.root, series.id)))
        throw new DomainError('SERIES_NOT_EXPIRED', `run the EXPIRY of ${series.code} (delivery allocation) first`);
      day = businessDateOf(series.deliveryEnd, this.config.eodCutoff);
      phase = 'CLOSE';
    } else if (type === 'DAILY') {
      return this.daily.startOne(series.id, businessDate, requestedBy);
    } else {
      throw new DomainError('SETTLEMENT_TYPE_MISMATCH', `unknown run type ${type as string}`);
    }
    return this.tx
      .run(async (tx) => {
        const existing = await this.runs.findForSeries(tx, type, day, series.id);
        if (existing) return existing;
        const run = await this.runs.create(tx, { type, businessDate: day, seriesId: series.id, requestedBy, phase });
        await this.outbox.enqueue(tx, 'settlement.run', { runId: run.id }, { jobId: `settlement-run-${run.id}` });
        return run;
      })
      .finally(() => this.outbox.poke());
  }

  /** Without a series: only a DAILY run settles a set (see `DailyRunStarts.startAll`). */
  startAll(type: SettlementRunType, businessDate: string | undefined, requestedBy?: string): Promise<SettlementRun[]> {
    if (type !== 'DAILY')
      throw new DomainError('VALIDATION_FAILED', `${type} runs need a series`, [{ field: 'series', message: 'required for this type' }]);
    return this.daily.startAll(businessDate, requestedBy);
  }
}
