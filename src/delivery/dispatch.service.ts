import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import type { Prisma } from '../generated/prisma/client.js';
import { ListingCache } from '../markets/listing-cache.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import type { JobPayloads } from '../platform/queues/job-registry.js';
import { Queues } from '../platform/queues/queues.js';
import { JOBS } from '../platform/queues/job-registry.js';
import { Clock } from '../platform/time/clock.js';
import { dispatchJobId } from './delivery-jobs.service.js';
import type { SeriesWithProduct } from '../markets/markets.repository.js';
import { DeliveryRepository, type EligibleNode } from './delivery.repository.js';
import { JobBatchRepository } from './job-batch.repository.js';
import type { DispatchJob, Dispatched } from './job-batch.rows.js';
import { JobFailures } from './job-failures.js';
import { NodeQueues, type QueuedJob } from './node-queues.js';
import { VerificationRepository } from './verification.repository.js';

/**
 * The delivery scheduler: places a QUEUED job on the queue of an eligible node of its obligation's
 * seller. Postgres decides (a conditional update from QUEUED at this attempt), Redis carries: a
 * duplicate dispatch message loses the update and does nothing.
 */
@Injectable()
export class DispatchService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly repo: DeliveryRepository,
    private readonly batches: JobBatchRepository,
    private readonly listings: ListingCache,
    private readonly nodes: NodeQueues,
    private readonly queues: Queues,
    private readonly clock: Clock,
    private readonly failures: JobFailures,
    private readonly verification: VerificationRepository,
  ) {}

  @JobHandler('delivery.dispatch')
  async dispatch(entry: JobPayloads['delivery.dispatch']): Promise<string> {
    const [outcome] = await this.dispatchMany([entry]);
    return outcome;
  }

  /** A submission batch's jobs, dispatched together: one read, one node query per seller, one update. */
  @JobHandler('delivery.dispatch-batch')
  async dispatchBatch({ jobs }: JobPayloads['delivery.dispatch-batch']): Promise<string> {
    const outcomes = await this.dispatchMany(jobs);
    const counts = new Map<string, number>();
    for (const o of outcomes) {
      const kind = o.split(':')[0];
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
    }
    return [...counts].map(([k, n]) => `${k} ${n}`).join(', ');
  }

  /** Places each entry's job on a node queue (or waits, or fails it); answers one outcome per entry. */
  async dispatchMany(entries: { jobId: string; attempt: number }[]): Promise<string[]> {
    const rows = new Map(
      (
        await this.batches.jobsToDispatch(
          this.tx.statements,
          entries.map((e) => e.jobId),
        )
      ).map((j) => [j.id, j]),
    );
    // The service clock decides business time (the window); operational timestamps are wall time,
    // as the reaper compares them with the database's now().
    const now = this.clock.now();
    const wall = new Date();
    const outcome = new Map<string, string>();
    const placeable: { job: DispatchJob; series: SeriesWithProduct }[] = [];
    const expired: { job: DispatchJob; series: SeriesWithProduct }[] = [];
    /** Jobs that go round again later: before their window opens, or waiting for capacity. */
    const later: { job: DispatchJob; delay: number; suffix: string; decision: Record<string, unknown> | null }[] = [];
    for (const { jobId, attempt } of entries) {
      const job = rows.get(jobId);
      if (!job || job.status !== 'QUEUED' || job.attempt !== attempt || outcome.has(jobId)) {
        outcome.set(jobId, 'not-queued');
        continue;
      }
      // Only fixed terms are used (window, regions, rate floor): the listing cache serves them.
      const series = (await this.listings.seriesById(job.seriesId))!;
      if (now >= series.deliveryEnd) {
        expired.push({ job, series });
        outcome.set(jobId, job.verifiesJobId ? 'failed:NOT_VERIFIED' : 'failed:NO_CAPACITY');
      } else if (now < series.deliveryStart) {
        // Called off early: it waits in the queue for the window to open (the reaper re-drives it
        // if Redis loses the delayed message).
        later.push({
          job,
          delay: Math.min(series.deliveryStart.getTime() - now.getTime(), this.config.delivery.staleMs / 2),
          suffix: `.e${wall.getTime()}`,
          decision: null,
        });
        outcome.set(jobId, 'before-window');
      } else placeable.push({ job, series });
    }

    const chosen: Dispatched[] = [];
    const candidatesOf = new Map<string, (EligibleNode & { operatorId?: string })[]>();
    for (const { job, series } of placeable) {
      const regions = job.region ? [job.region] : series.product.regions;
      // A verification re-run goes to another operator than the original's seller (SPEC §6.1):
      // re-runs of one seller's jobs share their candidates (one node query per seller, not per re-run).
      const verifies = job.verifiesJobId;
      const key = `${verifies ? `v:${job.verifiesSellerId}` : job.sellerId}|${job.modelClass}|${regions.join(',')}|${series.product.minTokensPerSecond}`;
      let candidates = candidatesOf.get(key);
      if (!candidates) {
        const q = { modelClass: job.modelClass, regions, minTokensPerSecond: series.product.minTokensPerSecond };
        candidates = verifies
          ? await this.verification.verifierNodes(this.tx.statements, { ...q, excludeOperatorId: job.verifiesSellerId ?? job.sellerId })
          : await this.repo.eligibleNodes(this.tx.statements, { ...q, sellerId: job.sellerId });
        candidatesOf.set(key, candidates);
      }
      const pick = pickNode(candidates, job.triedNodes);
      const decision = {
        at: wall.toISOString(),
        attempt: job.attempt,
        event: pick ? 'DISPATCHED' : 'NO_ELIGIBLE_NODE',
        nodeId: pick?.node.nodeId ?? null,
        why: pick
          ? `${pick.triedBefore ? 'only eligible node (tried before)' : 'most spare tokens/s'}: ${pick.node.spareTokensPerSecond} of ${pick.node.tokensPerSecond} in ${pick.node.region}`
          : `no ONLINE node ${verifies ? 'of another operator' : 'of the seller'} serves ${job.modelClass} in ${regions.join(', ')}`,
        candidates: candidates.slice(0, 5).map((c) => ({
          nodeId: c.nodeId,
          region: c.region,
          spare: c.spareTokensPerSecond,
          triedBefore: job.triedNodes.includes(c.nodeId),
        })),
      };
      if (!pick) {
        // Backoff, but within the reaper's staleness (it would re-drive a quieter job anyway)
        // and never past the end of the window, when the job must fail.
        const delay = Math.min(
          500 * 2 ** Math.min(job.waits, 10),
          this.config.delivery.staleMs / 2,
          Math.max(0, series.deliveryEnd.getTime() - now.getTime()),
        );
        later.push({ job, delay, suffix: `.w${job.waits + 1}`, decision });
        outcome.set(job.id, 'waiting-for-capacity');
        continue;
      }
      // The next job of the batch sees this one's load on the node.
      pick.node.spareTokensPerSecond -= series.product.minTokensPerSecond;
      chosen.push({
        id: job.id,
        attempt: job.attempt,
        nodeId: pick.node.nodeId,
        decision,
        ...(verifies && pick.node.operatorId ? { sellerId: pick.node.operatorId } : {}),
      });
    }

    await Promise.all([this.failNoCapacity(expired), this.dispatchLater(later)]);
    const moved = await this.batches.markDispatched(this.tx.statements, chosen);
    // After the commit: a crash here leaves DISPATCHED jobs the reaper re-adds to their node queues.
    const perNode = new Map<string, QueuedJob[]>();
    for (const c of chosen) {
      if (!moved.has(c.id)) {
        outcome.set(c.id, 'superseded');
        continue;
      }
      const list = perNode.get(c.nodeId) ?? [];
      if (list.length === 0) perNode.set(c.nodeId, list);
      list.push({ jobId: c.id, attempt: c.attempt });
      outcome.set(c.id, `dispatched:${c.nodeId}`);
    }
    await Promise.all([...perNode].map(([nodeId, list]) => this.nodes.addMany(nodeId, list)));
    return entries.map((e) => outcome.get(e.jobId)!);
  }

  /** Records why the jobs wait (one statement) and sends each a delayed dispatch message (one round trip). */
  private async dispatchLater(
    later: { job: DispatchJob; delay: number; suffix: string; decision: Record<string, unknown> | null }[],
  ): Promise<void> {
    if (later.length === 0) return;
    await this.batches.recordWaits(
      this.tx.statements,
      later.map((l) => ({ id: l.job.id, decision: l.decision })),
    );
    // Jobs that go round again with the same delay and suffix go in one delayed dispatch-batch
    // message (jobs waiting for capacity together are retried together, as they were placed).
    const groups = new Map<string, typeof later>();
    for (const l of later) {
      const key = `${l.delay}|${l.suffix}`;
      const group = groups.get(key);
      if (group) group.push(l);
      else groups.set(key, [l]);
    }
    const single = JOBS['delivery.dispatch'];
    const batch = JOBS['delivery.dispatch-batch'];
    await this.queues.get(single.queue).addBulk(
      [...groups.values()].map((g) =>
        g.length === 1
          ? {
              name: 'delivery.dispatch',
              data: { jobId: g[0].job.id, attempt: g[0].job.attempt },
              opts: { ...single.options, jobId: dispatchJobId(g[0].job.id, g[0].job.attempt, g[0].suffix), delay: g[0].delay },
            }
          : {
              name: 'delivery.dispatch-batch',
              data: { jobs: g.map((l) => ({ jobId: l.job.id, attempt: l.job.attempt })) },
              opts: {
                ...batch.options,
                jobId: `dispatch-batch.${dispatchJobId(g[0].job.id, g[0].job.attempt, g[0].suffix)}`,
                delay: g[0].delay,
              },
            },
      ),
    );
  }

  /** Jobs still QUEUED when their window ended FAIL as the operator's shortfall, in one transaction. */
  private async failNoCapacity(all: { job: DispatchJob; series: SeriesWithProduct }[]): Promise<void> {
    if (all.length === 0) return;
    const expired = all.filter((e) => !e.job.verifiesJobId);
    const unverified = all.filter((e) => e.job.verifiesJobId);
    await this.tx.run(async (tx) => {
      // A re-run that found no other operator's node in the window: the original is left unverified.
      if (unverified.length > 0)
        await this.verification.dropUnverified(
          tx,
          unverified.map(({ job, series }) => ({
            id: job.id,
            attempt: job.attempt,
            reason: `no node of another operator before the window ended (${series.deliveryEnd.toISOString()})`,
          })),
        );
      if (expired.length === 0) return;
      const failed = await this.batches.failQueued(
        tx,
        'NO_CAPACITY',
        expired.map(({ job, series }) => ({
          id: job.id,
          attempt: job.attempt,
          reason: `no eligible node of the seller before the window ended (${series.deliveryEnd.toISOString()})`,
        })),
      );
      await this.failures.settle(tx, failed);
    });
  }
}

/**
 * The node with the most spare tokens/s among those that have not lost or failed this job yet
 * (else among those that have); ties (idle nodes of equal rate) broken at random, which spreads
 * load across them.
 */
function pickNode<N extends EligibleNode>(candidates: N[], tried: string[]): { node: N; triedBefore: boolean } | null {
  for (const triedBefore of [false, true]) {
    const pool = candidates.filter((c) => tried.includes(c.nodeId) === triedBefore);
    if (pool.length === 0) continue;
    const best = Math.max(...pool.map((c) => c.spareTokensPerSecond));
    const top = pool.filter((c) => c.spareTokensPerSecond === best);
    return { node: top[Math.floor(Math.random() * top.length)], triedBefore };
  }
  return null;
}

export function appendDecision(existing: Prisma.JsonValue, decision: Record<string, unknown>): Prisma.InputJsonValue {
  const list = Array.isArray(existing) ? existing : [];
  // Bounded: a job waiting days for capacity must not grow without limit.
  return [...list, decision].slice(-50) as Prisma.InputJsonValue;
}
