import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Subscription } from 'rxjs';
import { CapacityEvents } from '../capacity/capacity.events.js';
import type { DeliveryJob } from '../generated/prisma/client.js';
import type { NodePrincipal } from '../capacity/node-token.guard.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { PrismaService, type Tx } from '../platform/prisma/prisma.service.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { dispatchJobId } from './delivery-jobs.service.js';
import { DeliveryRepository } from './delivery.repository.js';
import { JobBatchRepository } from './job-batch.repository.js';
import { appendDecision } from './dispatch.service.js';
import type { FailJobDto } from './dto/delivery.dto.js';
import { JobFailures } from './job-failures.js';
import { NodeQueues, nodeEntryId } from './node-queues.js';

export interface LeasedJob {
  id: string;
  leaseToken: string;
  leaseExpiresAt: string;
  modelClass: string;
  messages: unknown;
  maxTokens: number;
}

const POLL_MS = 100;

/**
 * Leases over HTTP: a node agent takes jobs from its node's queue (the BullMQ lock, owned by the
 * lease token, is the lease), and Postgres records the lease so completion can be checked against
 * it. Heartbeats extend a node's leases; failures go back to dispatch or fail for good.
 */
@Injectable()
export class LeaseService implements OnModuleDestroy {
  private readonly logger = new Logger(LeaseService.name);
  private readonly sub: Subscription;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly repo: DeliveryRepository,
    private readonly batches: JobBatchRepository,
    private readonly nodes: NodeQueues,
    private readonly outbox: OutboxService,
    private readonly failures: JobFailures,
    events: CapacityEvents,
  ) {
    this.sub = events.heartbeat.subscribe(({ nodeId }) => void this.extend(nodeId).catch((err: Error) => this.logger.warn({ nodeId, err: err.message }, 'lease extension failed')));
  }

  onModuleDestroy(): void {
    this.sub.unsubscribe();
  }

  async lease(node: NodePrincipal, maxJobs: number, waitSeconds: number, signal?: AbortSignal): Promise<LeasedJob[]> {
    const deadline = Date.now() + Math.min(waitSeconds, this.config.delivery.maxLeaseWaitSeconds) * 1000;
    for (;;) {
      const out = await this.takeMany(node.nodeId, maxJobs, signal);
      const left = deadline - Date.now();
      if (out.length > 0 || left <= 0 || signal?.aborted) return out;
      await this.nodes.waitForWork(node.nodeId, Math.min(POLL_MS, left), signal);
    }
  }

  /**
   * Takes up to `max` entries off the node's queue, each under its own lease token, and records
   * every lease in one statement. An entry whose job moved on since it was queued is stale: it is
   * finished off the queue and not handed out.
   */
  private async takeMany(nodeId: string, max: number, signal?: AbortSignal): Promise<LeasedJob[]> {
    if (signal?.aborted) return [];
    // Every take goes out at once (each is one atomic BullMQ move under its own token): one
    // round trip to Redis for the whole lease instead of one per job. While Redis is away there
    // is simply no work to hand out; the agent asks again.
    const entries = await Promise.all(
      Array.from({ length: max }, async () => {
        const token = randomBytes(16).toString('hex');
        const entry = await this.nodes.take(nodeId, token).catch(() => null);
        return entry ? { entryId: entry.id!, jobId: entry.data.jobId, attempt: entry.data.attempt, token } : null;
      }),
    );
    const taken = entries.filter((e) => e !== null);
    if (taken.length === 0) return [];
    const rows = await this.batches.claim(this.prisma.sql, nodeId, this.config.delivery.leaseMs, taken.map((t) => ({ id: t.jobId, attempt: t.attempt, token: t.token })));
    const claimed = new Map(rows.map((r) => [r.leaseToken, r]));
    await Promise.all(taken.filter((t) => !claimed.has(t.token)).map((t) => this.nodes.finish(nodeId, t.entryId, t.token, 'superseded')));
    return taken.flatMap((t) => {
      const r = claimed.get(t.token);
      return r ? [{ id: r.id, leaseToken: t.token, leaseExpiresAt: r.leaseExpiresAt.toISOString(), modelClass: r.modelClass, messages: r.messages, maxTokens: r.maxTokens }] : [];
    });
  }

  /** Agent heartbeat: every lease the node holds runs for another lease period. */
  async extend(nodeId: string): Promise<number> {
    const rows = await this.prisma.$queryRaw<{ id: string; attempt: number; leaseToken: string }[]>`
      UPDATE delivery_jobs SET "leaseExpiresAt" = now() + ${this.config.delivery.leaseMs} * interval '1 millisecond'
      WHERE "nodeId" = ${nodeId}::uuid AND status = 'LEASED' RETURNING id, attempt, "leaseToken"`;
    await Promise.all(rows.map((r) => this.nodes.extend(nodeId, nodeEntryId(r.id, r.attempt), r.leaseToken).catch(() => undefined)));
    return rows.length;
  }

  /** The agent gives a job up: back to dispatch (another node first) while attempts remain. */
  async fail(node: NodePrincipal, jobId: string, body: FailJobDto): Promise<{ id: string; status: string; attempt: number }> {
    let leasedAttempt = 0;
    const job = await this.prisma.$transaction(async (tx) => {
      const current = await this.leased(tx, node, jobId, body.leaseToken);
      leasedAttempt = current.attempt;
      const now = new Date();
      const next = current.attempt + 1;
      const decision = { at: now.toISOString(), attempt: current.attempt, event: 'NODE_FAILED', nodeId: node.nodeId, reason: body.reason, retryable: body.retryable };
      const common = { triedNodes: [...current.triedNodes, node.nodeId], nodeId: null, leaseToken: null, leaseExpiresAt: null, updatedAt: now, decisions: appendDecision(current.decisions, decision) };
      if (body.retryable && next < this.config.delivery.maxAttempts) {
        await this.outbox.enqueue(tx, 'delivery.dispatch', { jobId, attempt: next }, { jobId: dispatchJobId(jobId, next) });
        return tx.deliveryJob.update({ where: { id: jobId }, data: { ...common, status: 'QUEUED', attempt: next } });
      }
      const failed = await tx.deliveryJob.update({
        where: { id: jobId },
        data: { ...common, status: 'FAILED', failureCode: 'OPERATOR_FAILURE', failureReason: body.reason, operatorFault: true, finishedAt: now },
      });
      await this.failures.settle(tx, [jobId]);
      return failed;
    });
    this.outbox.poke();
    await this.nodes.finish(node.nodeId, nodeEntryId(jobId, leasedAttempt), body.leaseToken, 'failed');
    return { id: job.id, status: job.status, attempt: job.attempt };
  }

  /** Locks the job and checks the caller holds its current lease. */
  async leased(tx: Tx, node: NodePrincipal, jobId: string, leaseToken: string): Promise<DeliveryJob> {
    return assertHoldsLease(node, (await this.repo.lockJob(tx, jobId))[0], leaseToken);
  }
}

/** The job (read under its lock) is leased to this node under this token; else why not, as a DomainError. */
export function assertHoldsLease<J extends Pick<DeliveryJob, 'sellerId' | 'status' | 'leaseToken' | 'nodeId'>>(node: NodePrincipal, job: J | undefined, leaseToken: string): J {
  if (!job || job.sellerId !== node.operatorId) throw new DomainError('NOT_FOUND', 'delivery job not found');
  if (job.status === 'LEASED' && job.leaseToken === leaseToken && job.nodeId === node.nodeId) return job;
  if ((job.status === 'COMPLETED' || job.status === 'FAILED') && job.leaseToken !== leaseToken) throw new DomainError('JOB_FINISHED', `job is ${job.status}`);
  throw new DomainError('LEASE_STALE', 'this lease expired or the job was dispatched again; drop the result');
}
