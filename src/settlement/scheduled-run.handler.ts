import { Injectable, Logger } from '@nestjs/common';
import { MarketsRepository } from '../markets/markets.repository.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import type { JobPayloads } from '../platform/queues/job-registry.js';
import { RunStartService } from './run-start.service.js';

/** Scheduled at lastTradingAt (PHYSICAL expiry) and deliveryEnd (window close): starts that run. */
@Injectable()
export class ScheduledRunHandler {
  private readonly logger = new Logger(ScheduledRunHandler.name);

  constructor(
    private readonly tx: TransactionRunner,
    private readonly markets: MarketsRepository,
    private readonly starts: RunStartService,
  ) {}

  @JobHandler('settlement.scheduled-run')
  async scheduled({ seriesId, type }: JobPayloads['settlement.scheduled-run']): Promise<{ runId: string }> {
    const series = await this.markets.seriesById(this.tx.root, seriesId);
    if (!series) return { runId: '' };
    try {
      return { runId: (await this.starts.start(type, series.code, undefined)).id };
    } catch (err) {
      // Not due by the service clock (or not applicable any more): clearing staff can start it.
      if (!(err instanceof DomainError)) throw err;
      this.logger.warn({ series: series.code, type, code: err.code, detail: err.detail }, 'scheduled settlement run not started');
      return { runId: '' };
    }
  }
}
