import { Inject, Injectable } from '@nestjs/common';
import type { SettlementRun } from '../generated/prisma/client.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { addDays } from '../platform/time/business-date.js';
import { Clock } from '../platform/time/clock.js';
import { DailySettlementRepository } from './daily-settlement.repository.js';
import { endOfBusinessDay } from './domain/settlement-math.js';
import { SettlementRunsRepository } from './settlement-runs.repository.js';
import { SettlementSeriesRepository } from './settlement-series.repository.js';

/**
 * Starting DAILY runs: one run per business date and set of series, no series in two runs of a
 * date; the work happens in the worker (`settlement.run`).
 */
@Injectable()
export class DailyRunStarts {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly runs: SettlementRunsRepository,
    private readonly coverage: DailySettlementRepository,
    private readonly series: SettlementSeriesRepository,
    private readonly outbox: OutboxService,
    private readonly clock: Clock,
  ) {}

  /** The DAILY run that settles one series on an ended date (possibly a run over a set of series). */
  async startOne(seriesId: string, businessDate: string | undefined, requestedBy?: string): Promise<SettlementRun> {
    return (await this.start([seriesId], this.endedBusinessDate(businessDate), requestedBy))[0];
  }

  /**
   * Without a series: every listed or trading series that had begun by that day's end, settled
   * as one run (plus any run already started for some of them that day).
   */
  async startAll(businessDate: string | undefined, requestedBy?: string): Promise<SettlementRun[]> {
    const day = this.endedBusinessDate(businessDate);
    const ids = await this.series.dailyEligible(this.tx.root, endOfBusinessDay(day, this.config.eodCutoff));
    if (ids.length === 0) return [];
    return this.start(ids, day, requestedBy);
  }

  /**
   * The DAILY runs that settle these series on a date: the runs already started for some, and
   * one new run over the rest (a set of series settles as one run, netted per member). Starts of
   * the same date are serialised, so no series is ever in two runs of one date.
   */
  private async start(seriesIds: string[], day: string, requestedBy?: string): Promise<SettlementRun[]> {
    return this.tx
      .run(async (tx) => {
        await this.runs.lockDailyStarts(tx, day);
        const covered = await this.coverage.covered(tx, seriesIds, day);
        const runs = await this.runs.byIds(tx, [...new Set(covered.values())]);
        const rest = [...new Set(seriesIds.filter((id) => !covered.has(id)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        if (rest.length === 0) return runs;
        const run = await this.runs.create(tx, { type: 'DAILY', businessDate: day, requestedBy });
        await this.coverage.cover(tx, run.id, rest, day);
        await this.outbox.enqueue(tx, 'settlement.run', { runId: run.id }, { jobId: `settlement-run-${run.id}` });
        return [...runs, run];
      })
      .finally(() => this.outbox.poke());
  }

  /** The business date a DAILY run settles (default: the one before today); it must have ended. */
  private endedBusinessDate(businessDate: string | undefined): string {
    const today = this.clock.businessDate();
    const day = businessDate ?? addDays(today, -1);
    if (day >= today)
      throw new DomainError(
        'BUSINESS_DAY_NOT_ENDED',
        `business date ${day} ends at ${endOfBusinessDay(day, this.config.eodCutoff).toISOString()}`,
      );
    return day;
  }
}
