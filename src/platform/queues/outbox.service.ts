import { Injectable } from '@nestjs/common';
import type { RawSql } from '../prisma/prisma.service.js';
import { JOBS, type JobName, type JobPayloads } from './job-registry.js';
import { OutboxRepository } from './outbox.repository.js';

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

  constructor(private readonly repo: OutboxRepository) {}

  async enqueue<K extends JobName>(db: RawSql, job: K, payload: JobPayloads[K], opts: { jobId: string; notBefore?: Date }): Promise<void> {
    await this.enqueueMany(db, job, [{ payload, ...opts }]);
  }

  /** Many messages of one job in one statement (e.g. every job a reaper pass sends back). */
  async enqueueMany<K extends JobName>(
    db: RawSql,
    job: K,
    items: { payload: JobPayloads[K]; jobId: string; notBefore?: Date }[],
  ): Promise<void> {
    if (items.length === 0) return;
    for (const i of items) if (!JOB_ID.test(i.jobId)) throw new Error(`outbox jobId ${JSON.stringify(i.jobId)} must match ${JOB_ID}`);
    await this.repo.insert(db, JOBS[job].queue, job, items);
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
