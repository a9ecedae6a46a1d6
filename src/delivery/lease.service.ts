import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { CapacityEvents } from '../capacity/capacity.events.js';
import type { DeliveryJob } from '../generated/prisma/client.js';
import type { NodePrincipal } from '../capacity/node-token.guard.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { DomainError } from '../platform/errors/error-codes.js';
import type { Tx } from '../platform/prisma/prisma.service.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { dispatchJobId } from './delivery-jobs.service.js';
import { DeliveryJobsRepository } from './delivery-jobs.repository.js';
import { DeliveryRepository } from './delivery.repository.js';
import { JobBatchRepository } from './job-batch.repository.js';
import type { Claim, ClaimedJob } from './job-batch.rows.js';
import { AuditRepository, type AuditEntry } from '../platform/audit/audit.repository.js';
import { inOrder } from '../platform/prisma/sql-tx.js';
import { appendDecision } from './dispatch.service.js';
import { seedFor } from './domain/verification.js';
import { JobStream } from './job-stream.js';
import { ListingCache } from '../markets/listing-cache.js';
import type { FailJobDto } from './dto/delivery.dto.js';
import { JobFailures } from './job-failures.js';
import { CHUNK, entryJobs, leaseToken, newLock, NodeQueues, parseLeaseToken, type QueuedJob } from './node-queues.js';

export interface LeasedJob {
  id: string;
  leaseToken: string;
  leaseExpiresAt: string;
  modelClass: string;
  messages: unknown;
  maxTokens: number;
  /** The product's guaranteed rate: the agent sizes its per-job timeout from it. */
  minTokensPerSecond: number;
  /**
   * Sampling seed derived from the job id (a verification re-run carries its original's), asked
   * of the inference server with temperature 0 so an honest output can be reproduced.
   */
  seed: number;
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
    private readonly tx: TransactionRunner,
    private readonly repo: DeliveryRepository,
    private readonly jobs: DeliveryJobsRepository,
    private readonly batches: JobBatchRepository,
    private readonly nodes: NodeQueues,
    private readonly outbox: OutboxService,
    private readonly failures: JobFailures,
    private readonly listings: ListingCache,
    private readonly stream: JobStream,
    private readonly audit: AuditRepository,
    events: CapacityEvents,
  ) {
    this.sub = events.heartbeat.subscribe(
      ({ nodeId, leases }) =>
        void this.extend(nodeId, leases).catch((err: Error) => this.logger.warn({ nodeId, err: err.message }, 'lease extension failed')),
    );
  }

  onModuleDestroy(): void {
    this.sub.unsubscribe();
  }

  /** `audit`: the request's audit row, committed with the leases it records (none when it takes nothing). */
  async lease(node: NodePrincipal, maxJobs: number, waitSeconds: number, signal?: AbortSignal, audit?: AuditEntry): Promise<LeasedJob[]> {
    const deadline = Date.now() + Math.min(waitSeconds, this.config.delivery.maxLeaseWaitSeconds) * 1000;
    for (;;) {
      const out = await this.takeMany(node.nodeId, maxJobs, signal, audit);
      const left = deadline - Date.now();
      if (out.length > 0 || left <= 0 || signal?.aborted) return out;
      await this.nodes.waitForWork(node.nodeId, Math.min(POLL_MS, left), signal);
    }
  }

  /**
   * Takes entries off the node's queue until they carry `max` jobs, each entry under its own lock
   * (the lease of its jobs), and records every lease in one statement. A chunk that carries more
   * than is still wanted is split: the rest goes back on the queue as an entry of its own. A job
   * that moved on since it was queued is passed over; an entry left with no job leased is
   * finished at once.
   */
  private async takeMany(nodeId: string, max: number, signal?: AbortSignal, audit?: AuditEntry): Promise<LeasedJob[]> {
    const taken: { entryId: string; lock: string; jobs: QueuedJob[] }[] = [];
    let wanted = max;
    while (wanted > 0 && !signal?.aborted) {
      // As many takes at once as could be needed (each one atomic BullMQ move under its own
      // lock): one round trip to Redis. While Redis is away there is no work to hand out.
      const round = await Promise.all(
        Array.from({ length: Math.ceil(wanted / CHUNK) }, async () => {
          const lock = newLock();
          const entry = await this.nodes.take(nodeId, lock).catch(() => null);
          return entry ? { entryId: entry.id!, lock, jobs: entryJobs(entry.data) } : null;
        }),
      );
      const got = round.filter((e) => e !== null);
      for (const e of got) {
        if (e.jobs.length > wanted) {
          // Should Redis refuse the rest now, they stay DISPATCHED in Postgres and the reaper
          // gives each an entry of its own once they have waited too long.
          await this.nodes.addMany(nodeId, e.jobs.slice(wanted)).catch(() => undefined);
          e.jobs = e.jobs.slice(0, wanted);
        }
        wanted -= e.jobs.length;
        taken.push(e);
      }
      if (got.length < round.length) break;
    }
    if (taken.length === 0) return [];
    const claims = taken.flatMap((e) => e.jobs.map((j) => ({ id: j.jobId, attempt: j.attempt, token: leaseToken(e.entryId, e.lock) })));
    const rows = claims.length > 0 ? await this.claim(nodeId, claims, audit) : [];
    const claimed = new Map(rows.map((r) => [r.id, r]));
    this.stream.committed(rows.map((job) => ({ job, usage: null })));
    await Promise.all(
      taken.filter((e) => !e.jobs.some((j) => claimed.has(j.jobId))).map((e) => this.nodes.finish(nodeId, e.entryId, e.lock, 'superseded')),
    );
    const floors = new Map<string, number>();
    for (const r of rows) {
      if (!floors.has(r.seriesId)) floors.set(r.seriesId, (await this.listings.seriesById(r.seriesId))?.product.minTokensPerSecond ?? 1);
    }
    return claims.flatMap((c) => {
      const r = claimed.get(c.id);
      return r
        ? [
            {
              id: r.id,
              leaseToken: c.token,
              leaseExpiresAt: r.leaseExpiresAt.toISOString(),
              modelClass: r.modelClass,
              messages: r.messages,
              maxTokens: r.maxTokens,
              minTokensPerSecond: floors.get(r.seriesId)!,
              seed: seedFor(r.verifiesJobId ?? r.id, this.config.delivery.verificationSamplingKey),
            },
          ]
        : [];
    });
  }

  /** Records the leases; with an audit row, in one transaction with it (written only when a lease was). */
  private async claim(nodeId: string, claims: Claim[], audit: AuditEntry | undefined): Promise<ClaimedJob[]> {
    if (!audit) return this.batches.claim(this.tx.statements, nodeId, this.config.delivery.leaseMs, claims);
    return this.tx.sql(async (tx, commit) => {
      const rows = await this.batches.claim(tx, nodeId, this.config.delivery.leaseMs, claims);
      if (rows.length > 0) await inOrder([this.audit.appendMany(tx, [audit]), commit()]);
      return rows;
    });
  }

  /**
   * Agent heartbeat: the leases it names (the jobs it is working on) — or, when it names none,
   * every lease the node holds — run for another lease period. A lease the agent does not know
   * of (its answer was lost with a process that died, or the agent restarted) is not kept alive
   * by the node's heartbeats: it expires and its job goes back to dispatch.
   */
  async extend(nodeId: string, leases?: string[]): Promise<number> {
    const rows = await this.jobs.extendLeases(this.tx.root, nodeId, this.config.delivery.leaseMs, leases);
    const entries = [...new Set(rows.map((r) => r.leaseToken))].flatMap((t) => parseLeaseToken(t) ?? []);
    await Promise.all(entries.map((l) => this.nodes.extend(nodeId, l.entryId, l.lock).catch(() => undefined)));
    return rows.length;
  }

  /**
   * The agent gives a job up: back to dispatch (another node first) while attempts remain. A
   * failure the node says the request caused (the inference server's 4xx for the prompt) is the
   * buyer's — but only once a second run agrees: the first such claim sends the job back to
   * dispatch (which prefers another of the seller's nodes), the second claim is accepted as
   * REQUEST_REJECTED with no operator fault. So an operator cannot call every failure the buyer's
   * to escape the shortfall penalty: a prompt another node serves is delivered (or is a failure
   * of that node). A seller with one node re-runs it there; with no attempt left the claim stands
   * as made.
   */
  async fail(node: NodePrincipal, jobId: string, body: FailJobDto): Promise<{ id: string; status: string; attempt: number }> {
    // The node's words go into the decision log (jsonb), which refuses a lone surrogate: repaired
    // to U+FFFD as a text column would store it, rather than a 500 that strands the job.
    const reason = body.reason.toWellFormed();
    const job = await this.tx.run(async (tx) => {
      const current = await this.leased(tx, node, jobId, body.leaseToken);
      const now = new Date();
      const next = current.attempt + 1;
      const cause = body.cause ?? 'OPERATOR';
      const decision = {
        at: now.toISOString(),
        attempt: current.attempt,
        event: 'NODE_FAILED',
        nodeId: node.nodeId,
        reason,
        retryable: body.retryable,
        cause,
      };
      const common = {
        triedNodes: [...current.triedNodes, node.nodeId],
        nodeId: null,
        leaseToken: null,
        leaseExpiresAt: null,
        updatedAt: now,
        decisions: appendDecision(current.decisions, decision),
      };
      const requestCaused = cause === 'REQUEST';
      const confirmed = requestCaused && requestClaims(current.decisions) > 0;
      const retry = next < this.config.delivery.maxAttempts && (requestCaused ? !confirmed : body.retryable);
      if (retry) {
        await this.outbox.enqueue(tx, 'delivery.dispatch', { jobId, attempt: next }, { jobId: dispatchJobId(jobId, next) });
        return this.jobs.update(tx, jobId, { ...common, status: 'QUEUED', attempt: next });
      }
      const failed = await this.jobs.update(tx, jobId, {
        ...common,
        status: 'FAILED',
        failureCode: requestCaused ? 'REQUEST_REJECTED' : 'OPERATOR_FAILURE',
        failureReason: reason,
        operatorFault: !requestCaused,
        finishedAt: now,
      });
      await this.failures.settle(tx, [jobId]);
      return failed;
    });
    this.outbox.poke();
    this.stream.changed([job.id]);
    // The entry is done once none of the jobs it carried is leased under it any more.
    if ((await this.batches.openLeases(this.tx.statements, [body.leaseToken])).size === 0)
      await this.nodes.finishLease(node.nodeId, body.leaseToken, 'failed');
    return { id: job.id, status: job.status, attempt: job.attempt };
  }

  /** Locks the job and checks the caller holds its current lease. */
  async leased(tx: Tx, node: NodePrincipal, jobId: string, leaseToken: string): Promise<DeliveryJob> {
    return assertHoldsLease(node, (await this.repo.lockJob(tx, jobId))[0], leaseToken);
  }
}

/** How many earlier runs of the job a node failed saying the request caused it. */
export function requestClaims(decisions: unknown): number {
  if (!Array.isArray(decisions)) return 0;
  return decisions.filter(
    (d) => (d as { event?: string; cause?: string }).event === 'NODE_FAILED' && (d as { cause?: string }).cause === 'REQUEST',
  ).length;
}

/** The job (read under its lock) is leased to this node under this token; else why not, as a DomainError. */
export function assertHoldsLease<J extends Pick<DeliveryJob, 'sellerId' | 'status' | 'leaseToken' | 'nodeId'>>(
  node: NodePrincipal,
  job: J | undefined,
  leaseToken: string,
): J {
  if (!job || job.sellerId !== node.operatorId) throw new DomainError('NOT_FOUND', 'delivery job not found');
  if (job.status === 'LEASED' && job.leaseToken === leaseToken && job.nodeId === node.nodeId) return job;
  if ((job.status === 'COMPLETED' || job.status === 'FAILED') && job.leaseToken !== leaseToken)
    throw new DomainError('JOB_FINISHED', `job is ${job.status}`);
  throw new DomainError('LEASE_STALE', 'this lease expired or the job was dispatched again; drop the result');
}
