import { Injectable, Logger } from '@nestjs/common';
import { TransactionRunner } from '../prisma/transaction-runner.js';
import { JobHandler } from '../queues/job-handler.decorator.js';
import type { JobPayloads } from '../queues/job-registry.js';
import { PartitionsRepository } from './partitions.repository.js';

@Injectable()
export class PartitionsAheadHandler {
  private readonly logger = new Logger(PartitionsAheadHandler.name);

  constructor(
    private readonly tx: TransactionRunner,
    private readonly partitions: PartitionsRepository,
  ) {}

  /** Idempotent: partitions that exist are left alone, so any worker copy may run it any time. */
  @JobHandler('maintenance.partitions-ahead')
  async createAhead(payload: JobPayloads['maintenance.partitions-ahead']): Promise<{ created: number }> {
    const created = await this.tx.run((tx) => this.partitions.createAhead(tx, payload.monthsAhead));
    if (created > 0) this.logger.log({ created, monthsAhead: payload.monthsAhead }, 'created monthly partitions');
    return { created };
  }
}
