import { Injectable } from '@nestjs/common';
import type { Prisma } from '../../generated/prisma/client.js';
import type { Db } from '../prisma/prisma.service.js';
import { JOBS, type JobName, type JobPayloads } from './job-registry.js';

type Listener = () => void;

// BullMQ refuses ':' in custom job ids (it is its key separator); failing here, inside the
// caller's transaction, beats a row the relay can never deliver.
const JOB_ID = /^[A-Za-z0-9._-]{1,200}$/;

/**
 * Transactional outbox: call enqueue() with the transaction that writes the business rows, so the
 * job exists exactly when they do. The relay moves rows to BullMQ.
 */
@Injectable()
export class OutboxService {
  private readonly listeners = new Set<Listener>();

  async enqueue<K extends JobName>(
    db: Db,
    job: K,
    payload: JobPayloads[K],
    opts: { jobId: string; notBefore?: Date },
  ): Promise<void> {
    if (!JOB_ID.test(opts.jobId)) throw new Error(`outbox jobId ${JSON.stringify(opts.jobId)} must match ${JOB_ID}`);
    await db.outboxMessage.create({
      data: {
        queue: JOBS[job].queue,
        jobName: job,
        jobId: opts.jobId,
        payload: payload as unknown as Prisma.InputJsonValue,
        notBefore: opts.notBefore,
      },
    });
  }

  /** Lets an in-process relay react at once after the caller's transaction commits. */
  poke(): void {
    for (const l of this.listeners) l();
  }

  onPoke(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
