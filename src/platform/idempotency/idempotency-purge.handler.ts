import { Injectable, Logger } from '@nestjs/common';
import { JobHandler } from '../queues/job-handler.decorator.js';
import type { JobPayloads } from '../queues/job-registry.js';
import { IdempotencyRepository } from './idempotency.repository.js';

@Injectable()
export class IdempotencyPurgeHandler {
  private readonly logger = new Logger(IdempotencyPurgeHandler.name);

  constructor(private readonly records: IdempotencyRepository) {}

  @JobHandler('maintenance.purge-idempotency')
  async purge(payload: JobPayloads['maintenance.purge-idempotency']): Promise<{ deleted: number }> {
    const cutoff = new Date(Date.now() - payload.retentionHours * 3_600_000);
    const deleted = await this.records.purgeOlderThan(cutoff);
    this.logger.log({ deleted, cutoff }, 'purged idempotency records');
    return { deleted };
  }
}
