import { Injectable } from '@nestjs/common';
import type { Tx } from '../platform/prisma/prisma.service.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { DeliveryJobsRepository } from './delivery-jobs.repository.js';
import { DeliveryRepository } from './delivery.repository.js';

/**
 * What follows a job's final failure, wherever it is decided (node report, lease reaper, no
 * capacity, window close): its reservation goes back to the obligation and, with a callback URL,
 * the buyer is told — in the same transaction as the failure.
 */
@Injectable()
export class JobFailures {
  constructor(
    private readonly repo: DeliveryRepository,
    private readonly jobs: DeliveryJobsRepository,
    private readonly outbox: OutboxService,
  ) {}

  async settle(tx: Tx, jobIds: string[]): Promise<void> {
    if (jobIds.length === 0) return;
    await this.repo.releaseReservations(tx, jobIds);
    const withCallback = await this.jobs.withCallback(tx, jobIds);
    await this.outbox.enqueueMany(
      tx,
      'delivery.webhook',
      withCallback.map((id) => ({ payload: { jobId: id }, jobId: `webhook.${id}` })),
    );
  }
}
