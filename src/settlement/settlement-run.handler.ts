import { Injectable } from '@nestjs/common';
import { MarketsRepository } from '../markets/markets.repository.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import type { JobPayloads } from '../platform/queues/job-registry.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { isoDate } from '../platform/time/business-date.js';
import { Clock } from '../platform/time/clock.js';
import { DailySettlementService } from './daily-settlement.service.js';
import { DeliveryCloseRunService } from './delivery-close-run.service.js';
import { ExpiryRunService } from './expiry-run.service.js';
import { SettlementRunsRepository } from './settlement-runs.repository.js';
import { SettlementStream } from './settlement-stream.service.js';

/**
 * Executes (or resumes) one settlement run in the worker. DAILY: netted per member and atomic —
 * `DailySettlementService`. EXPIRY and DELIVERY_CLOSE: one per series; they post in chunks (each
 * its own transaction, progress saved with it) and resume from their cursor after a crash.
 * Transfer keys derive from the run's identity, so a resumed run and an uninterrupted one post the
 * same transfers and end with one checksum.
 */
@Injectable()
export class SettlementRunHandler {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly runs: SettlementRunsRepository,
    private readonly markets: MarketsRepository,
    private readonly daily: DailySettlementService,
    private readonly expiry: ExpiryRunService,
    private readonly deliveryClose: DeliveryCloseRunService,
    private readonly outbox: OutboxService,
    private readonly clock: Clock,
    private readonly stream: SettlementStream,
  ) {}

  @JobHandler('settlement.run')
  async execute({ runId }: JobPayloads['settlement.run']): Promise<{ status: string; checksum: string | null }> {
    const claimed = await this.runs.claim(this.tx.root, runId, this.clock.now());
    const run = (await this.runs.find(this.tx.root, runId))!;
    if (!claimed) return { status: run.status, checksum: run.checksum };
    const day = isoDate(run.businessDate);
    try {
      if (run.type === 'DAILY') {
        const done = await this.daily.settle(run);
        this.outbox.poke();
        this.stream.afterRun(run.id);
        return { status: 'COMPLETED', checksum: done.checksum! };
      }
      const series = (await this.markets.seriesById(this.tx.root, run.seriesId!))!;
      const base = `settle.${run.type}.${series.id}.${day}`;
      const done =
        run.type === 'DELIVERY_CLOSE'
          ? await this.deliveryClose.execute(run, series, day, base)
          : await this.expiry.execute(run, series, day, base);
      this.stream.afterRun(run.id);
      return done;
    } catch (err) {
      await this.runs.update(this.tx.root, run.id, { status: 'FAILED', error: (err as Error).message.slice(0, 2000) });
      throw err;
    }
  }
}
