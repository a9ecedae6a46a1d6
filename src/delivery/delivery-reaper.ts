import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { CapacityEvents } from '../capacity/capacity.events.js';
import { LedgerEvents } from '../ledger/ledger.events.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import type { Tx } from '../platform/prisma/prisma.service.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import { JOBS, type JobPayloads } from '../platform/queues/job-registry.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { Queues } from '../platform/queues/queues.js';
import { dispatchJobId } from './delivery-jobs.service.js';
import { DeliveryRepository } from './delivery.repository.js';

type Reclaimed = Awaited<ReturnType<DeliveryRepository['reclaim']>>[number];
import { JobFailures } from './job-failures.js';
import { NodeQueues, nodeEntryId, parseLeaseToken } from './node-queues.js';

/**
 * Keeps delivery moving from the record in Postgres, not from Redis: an in-process loop (worker
 * role) that sends expired leases and jobs of OFFLINE nodes back to dispatch (or fails them after
 * the last attempt), re-queues jobs whose queue entry Redis lost, and opens funded obligations.
 * It is a loop rather than a BullMQ repeatable job on purpose: it must run while Redis is empty.
 */
@Injectable()
export class DeliveryReaper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DeliveryReaper.name);
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private subs: Subscription[] = [];

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly repo: DeliveryRepository,
    private readonly nodes: NodeQueues,
    private readonly queues: Queues,
    private readonly outbox: OutboxService,
    private readonly capacity: CapacityEvents,
    private readonly ledger: LedgerEvents,
    private readonly failures: JobFailures,
  ) {}

  onApplicationBootstrap(): void {
    // Deposits open FUNDING obligations at once, in whichever process took the deposit.
    this.subs.push(
      this.ledger.deposited.subscribe(({ memberId }) => void this.repo.activateFunded(this.tx.root, memberId).catch(() => undefined)),
    );
    if (this.config.role === 'api') return;
    this.subs.push(this.capacity.nodeOffline.subscribe(() => this.wake?.()));
    this.running = true;
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.running = false;
    for (const s of this.subs) s.unsubscribe();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.reapOnce();
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'delivery reaper pass failed; retrying');
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.config.delivery.reapMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** One pass; public for tests and tools. Returns what it did. */
  async reapOnce(): Promise<{ reclaimed: number; failed: number; requeued: number }> {
    const moved = await this.sendBack((tx) => this.repo.reclaim(tx, this.config.delivery.maxAttempts));

    let requeued = 0;
    for (const s of await this.repo.stale(this.tx.root, this.config.delivery.staleMs, 500)) {
      try {
        if (s.status === 'QUEUED') {
          const def = JOBS['delivery.dispatch'];
          await this.queues
            .get(def.queue)
            .add(
              'delivery.dispatch',
              { jobId: s.id, attempt: s.attempt },
              { ...def.options, jobId: dispatchJobId(s.id, s.attempt, `.s${Date.now()}`) },
            );
        } else if (s.nodeId) {
          await this.nodes.restore(s.nodeId, { jobId: s.id, attempt: s.attempt });
        }
        requeued++;
      } catch (err) {
        this.logger.warn({ job: s.id, err: (err as Error).message }, 'could not re-queue a stale job yet');
      }
    }
    await this.repo.activateFunded(this.tx.root);
    return { reclaimed: moved.length, failed: moved.filter((r) => r.status === 'FAILED').length, requeued };
  }

  /** A suspended operator's leases, back to dispatch at once (queued by the suspension, with it). */
  @JobHandler('delivery.return-leases')
  async returnLeases({ operatorId }: JobPayloads['delivery.return-leases']): Promise<number> {
    const moved = await this.sendBack((tx) => this.repo.reclaimOperator(tx, operatorId, this.config.delivery.maxAttempts));
    return moved.length;
  }

  /**
   * Moves the jobs `reclaim` picks back to dispatch (or fails those at their last attempt), in one
   * transaction with their dispatch messages, then drops the node-queue entries they came in.
   */
  private async sendBack(reclaim: (tx: Tx) => Promise<Reclaimed[]>): Promise<Reclaimed[]> {
    const moved = await this.tx.run(async (tx) => {
      const rows = await reclaim(tx);
      await this.failures.settle(
        tx,
        rows.filter((r) => r.status === 'FAILED').map((r) => r.id),
      );
      const requeued = rows.filter((r) => r.status === 'QUEUED');
      await this.outbox.enqueueMany(
        tx,
        'delivery.dispatch',
        requeued.map((r) => ({ payload: { jobId: r.id, attempt: r.attempt }, jobId: dispatchJobId(r.id, r.attempt) })),
      );
      return rows;
    });
    if (moved.length > 0) {
      this.outbox.poke();
      for (const r of moved)
        this.logger.warn(
          { job: r.id, node: r.nodeId, reason: r.reason, status: r.status, attempt: r.attempt },
          'lease lost: job sent back to dispatch',
        );
      // The entries they came in: a leased job names its entry in its lease token; a job only
      // dispatched had one of its own, or sits in a chunk whose other jobs move on with it.
      const entryOf = (r: Reclaimed) =>
        (r.leaseToken ? parseLeaseToken(r.leaseToken)?.entryId : undefined) ?? nodeEntryId(r.id, r.previousAttempt);
      const entries = new Map(moved.map((r) => [`${r.nodeId}/${entryOf(r)}`, { nodeId: r.nodeId, entryId: entryOf(r) }]));
      await Promise.all([...entries.values()].map((e) => this.nodes.discard(e.nodeId, e.entryId)));
    }
    return moved;
  }
}
