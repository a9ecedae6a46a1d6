import { Injectable, Logger } from '@nestjs/common';
import { ListingCache } from '../markets/listing-cache.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import type { StreamEvent } from '../streams/stream-events.js';
import { StreamPublisher } from '../streams/stream-publisher.js';
import { jobEventView } from './delivery-views.js';
import { JobEventsRepository, type JobEventRow } from './job-events.repository.js';

/**
 * Delivery's side of /v1/stream (`jobs`, SPEC §6.6): called with the ids of jobs whose status a
 * committed transaction changed (submitted, leased, completed, failed), it reads them back and
 * publishes each to its buyer and its delivering operator. One read and publish at a time; ids
 * that arrive meanwhile go together in the next round — at thousands of jobs a second that is one
 * query per round, not per job. Never fails the caller: the database is the record.
 *
 * Nothing is built, read or published while no API copy has a subscriber to `jobs`
 * (StreamPublisher.listening): at thousands of jobs a second, three events a job, that was the
 * API's biggest cost no client asked for.
 */
@Injectable()
export class JobStream {
  private readonly logger = new Logger(JobStream.name);
  private pending = new Set<string>();
  private draining: Promise<void> | undefined;
  private publishing = Promise.resolve();
  /** Rows committed and handed over since the last round of `committed` took its share. */
  private unpublished: JobEventRow[] = [];

  constructor(
    private readonly tx: TransactionRunner,
    private readonly jobs: JobEventsRepository,
    private readonly listings: ListingCache,
    private readonly publisher: StreamPublisher,
  ) {}

  /**
   * Jobs a commit has just written, as written (a submission's rows): published from the rows in
   * hand, not read back — by the time a read-back ran, dispatch may already have moved the job on
   * and its buyer would never see it QUEUED.
   */
  written(jobs: readonly JobEventRow['job'][]): void {
    this.committed(jobs.map((job) => ({ job, usage: null })));
  }

  /**
   * Jobs (and their usage) exactly as a commit left them, built from the rows the writer holds:
   * the lease's claim and a completion batch return or know every column an event shows, so
   * reading them back again was a second query per change (a quarter of bench:delivery's reads).
   */
  committed(rows: readonly JobEventRow[]): void {
    if (rows.length === 0) return;
    this.unpublished.push(...rows);
    // In call order (commit order); built only when someone listens. The rows of every commit
    // handed over while the last round ran share one question to Redis: asked after all those
    // commits, its "no" is as safe for each of them (StreamPublisher.listening) — one EXISTS a
    // round, not one a commit.
    if (this.unpublished.length === rows.length)
      this.publishing = this.publishing.then(async () => {
        const round = this.unpublished;
        this.unpublished = [];
        try {
          if (await this.publisher.listening('jobs')) this.publisher.publishAfterCommit(await this.toEvents(round));
        } catch (err) {
          this.logger.warn({ err: (err as Error).message, jobs: round.length }, 'job events not published; the database has them');
        }
      });
  }

  /** Jobs a commit changed whose rows the writer does not hold: read back, then published. */
  changed(ids: Iterable<string>): void {
    for (const id of ids) this.pending.add(id);
    if (this.pending.size > 0) this.draining ??= this.drain();
  }

  /** Resolves once everything handed over so far is published (tests, shutdown). */
  async flushed(): Promise<void> {
    await this.publishing;
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.size > 0) {
        const ids = [...this.pending];
        this.pending = new Set();
        try {
          // Nobody listening: not even read back.
          if (await this.publisher.listening('jobs')) this.publisher.publishAfterCommit(await this.events(ids));
        } catch (err) {
          this.logger.warn({ err: (err as Error).message, jobs: ids.length }, 'job events not published; the database has them');
        }
      }
    } finally {
      this.draining = undefined;
    }
  }

  private async events(ids: string[]): Promise<StreamEvent[]> {
    return this.toEvents(await this.jobs.byIds(this.tx.statements, ids));
  }

  private async toEvents(rows: readonly JobEventRow[]): Promise<StreamEvent[]> {
    const events: StreamEvent[] = [];
    for (const { job, usage } of rows) {
      const code = (await this.listings.seriesById(job.seriesId))?.code ?? job.seriesId;
      events.push({ channel: 'jobs', series: code, memberIds: [job.buyerId, job.sellerId], data: jobEventView(job, code, usage) });
    }
    return events;
  }
}
