import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { inOrder } from '../prisma/sql-tx.js';
import { TransactionRunner } from '../prisma/transaction-runner.js';
import { withTimeout } from '../time/with-timeout.js';
import { JOBS, jobOptions, type JobName, type QueueName } from './job-registry.js';
import { OutboxRepository, type OutboxRow } from './outbox.repository.js';
import { OutboxService } from './outbox.service.js';
import { Queues } from './queues.js';

const BATCH = 500;
const MAX_BACKOFF_MS = 5_000;

/**
 * Moves committed outbox rows to BullMQ. Rows are claimed with SKIP LOCKED so any number of
 * workers can relay; the BullMQ jobId is the row's deterministic id, so a row relayed twice
 * (crash between add and mark) is still one job. While Redis is away rows simply wait.
 */
function delayUntil(notBefore: Date | null): number | undefined {
  if (!notBefore) return undefined;
  const ms = notBefore.getTime() - Date.now();
  return ms > 0 ? ms : undefined;
}

@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private running = false;
  private wake?: () => void;
  /** A commit poked since the current pass began: its rows may be newer than the pass's read. */
  private poked = false;
  private loop?: Promise<void>;
  private unsubscribe?: () => void;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly repo: OutboxRepository,
    private readonly queues: Queues,
    private readonly outbox: OutboxService,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.role === 'api') return;
    this.running = true;
    this.unsubscribe = this.outbox.onPoke(() => {
      this.poked = true;
      this.wake?.();
    });
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    this.wake?.();
    await this.loop;
  }

  /**
   * One pass: relays up to BATCH rows; returns how many were sent. Public for tests and tools.
   * A pg transaction (SqlTx), not a Prisma one: a busy process runs a pass per commit that pokes
   * it, and Prisma's interactive transaction cost several times the CPU of the statements.
   */
  async relayOnce(): Promise<number> {
    return this.tx.sql(async (tx, commit) => {
      const rows = await this.repo.claimUnsent(tx, BATCH);
      if (rows.length === 0) return 0;
      const byQueue = new Map<QueueName, OutboxRow[]>();
      for (const row of rows) {
        // Pushed, not copied: a copy per append would be quadratic in the batch.
        const q = row.queue as QueueName;
        const list = byQueue.get(q);
        if (list) list.push(row);
        else byQueue.set(q, [row]);
      }
      // A Redis that is away fails the pass at once (producers keep no offline queue); one that is
      // connected but does not answer would hold the pass, its pg connection and its claimed rows.
      // Bounded, the pass rolls back and its rows wait for the next: should the writes land after
      // all, the row's deterministic job id makes the next pass's add a no-op.
      for (const [queue, batch] of byQueue) {
        await withTimeout(
          this.queues.get(queue).addBulk(
            batch.map((row) => ({
              name: row.jobName,
              data: row.payload,
              opts: {
                ...(row.jobName in JOBS ? jobOptions(row.jobName as JobName, this.config) : {}),
                jobId: row.jobId,
                delay: delayUntil(row.notBefore),
              },
            })),
          ),
          this.config.outboxRelayTimeoutMs,
          `Redis did not answer the outbox relay within ${this.config.outboxRelayTimeoutMs} ms`,
        );
      }
      await inOrder([
        this.repo.markSent(
          tx,
          rows.map((r) => r.seq),
        ),
        commit(),
      ]);
      return rows.length;
    });
  }

  private async run(): Promise<void> {
    let backoff = 0;
    while (this.running) {
      let sent = 0;
      this.poked = false;
      try {
        sent = await this.relayOnce();
        if (backoff) this.logger.log('outbox relay reconnected; catching up');
        backoff = 0;
      } catch (err) {
        backoff = Math.min(Math.max(backoff * 2, 100), MAX_BACKOFF_MS);
        this.logger.warn({ err: (err as Error).message, retryInMs: backoff }, 'outbox relay failed; rows stay in Postgres');
      }
      // Again at once when a full batch leaves more behind, or when a commit poked during the
      // pass (its wake-up found no one waiting, and its rows may be newer than what the pass
      // read). In a process that runs the API too, its commits poke: going round after every
      // pass that sent something was one empty transaction more per poke, half the relay's
      // passes under bench:delivery. A worker-role process hears none of the API's commits, so
      // while rows flow it keeps going round rather than sleep OUTBOX_POLL_MS between them.
      const unheard = this.config.role === 'worker' && sent > 0;
      if (backoff === 0 && (sent === BATCH || this.poked || unheard)) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoff || this.config.outboxPollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}
