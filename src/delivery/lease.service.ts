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
    const out: LeasedJob[] = [];
    for (;;) {
      while (out.length < maxJobs && !signal?.aborted) {
        const token = randomBytes(16).toString('hex');
        // While Redis is away there is simply no work to hand out; the agent asks again.
        const entry = await this.nodes.take(node.nodeId, token).catch(() => null);
        if (!entry) break;
        const leased = await this.claim(node.nodeId, entry.data.jobId, entry.data.attempt, token);
        if (leased) out.push(leased);
        else await this.nodes.finish(node.nodeId, entry.id!, token, 'superseded');
      }
      const left = deadline - Date.now();
      if (out.length > 0 || left <= 0 || signal?.aborted) return out;
      await this.nodes.waitForWork(node.nodeId, Math.min(POLL_MS, left), signal);
    }
  }

  /** Records the lease in Postgres; null when the entry is stale (the job moved on since). */
  private async claim(nodeId: string, jobId: string, attempt: number, token: string): Promise<LeasedJob | null> {
    const rows = await this.prisma.$queryRaw<{ id: string; leaseExpiresAt: Date; modelClass: string; messages: unknown; maxTokens: number }[]>`
      UPDATE delivery_jobs SET status = 'LEASED', "leaseToken" = ${token}, "leasedAt" = now(), "updatedAt" = now(),
        "leaseExpiresAt" = now() + ${this.config.delivery.leaseMs} * interval '1 millisecond'
      WHERE id = ${jobId}::uuid AND attempt = ${attempt} AND status = 'DISPATCHED' AND "nodeId" = ${nodeId}::uuid
      RETURNING id, "leaseExpiresAt", "modelClass", messages, "maxTokens"`;
    const r = rows[0];
    return r ? { id: r.id, leaseToken: token, leaseExpiresAt: r.leaseExpiresAt.toISOString(), modelClass: r.modelClass, messages: r.messages, maxTokens: r.maxTokens } : null;
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

  /** Locks the job (unless the caller already holds the row) and checks the caller holds its current lease. */
  async leased(tx: Tx, node: NodePrincipal, jobId: string, leaseToken: string, locked?: DeliveryJob) {
    const job = locked ?? (await this.repo.lockJob(tx, jobId))[0];
    if (!job || job.sellerId !== node.operatorId) throw new DomainError('NOT_FOUND', 'delivery job not found');
    if (job.status === 'LEASED' && job.leaseToken === leaseToken && job.nodeId === node.nodeId) return job;
    if ((job.status === 'COMPLETED' || job.status === 'FAILED') && job.leaseToken !== leaseToken) throw new DomainError('JOB_FINISHED', `job is ${job.status}`);
    throw new DomainError('LEASE_STALE', 'this lease expired or the job was dispatched again; drop the result');
  }
}
