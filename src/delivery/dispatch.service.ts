import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import type { Prisma } from '../generated/prisma/client.js';
import { ListingCache } from '../markets/listing-cache.js';
import { PrismaService } from '../platform/prisma/prisma.service.js';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import type { JobPayloads } from '../platform/queues/job-registry.js';
import { Queues } from '../platform/queues/queues.js';
import { JOBS } from '../platform/queues/job-registry.js';
import { Clock } from '../platform/time/clock.js';
import { dispatchJobId } from './delivery-jobs.service.js';
import { DeliveryRepository } from './delivery.repository.js';
import { JobFailures } from './job-failures.js';
import { NodeQueues } from './node-queues.js';


/**
 * The delivery scheduler: places a QUEUED job on the queue of an eligible node of its obligation's
 * seller. Postgres decides (a conditional update from QUEUED at this attempt), Redis carries: a
 * duplicate dispatch message loses the update and does nothing.
 */
@Injectable()
export class DispatchService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly repo: DeliveryRepository,
    private readonly listings: ListingCache,
    private readonly nodes: NodeQueues,
    private readonly queues: Queues,
    private readonly clock: Clock,
    private readonly failures: JobFailures,
  ) {}

  @JobHandler('delivery.dispatch')
  async dispatch({ jobId, attempt }: JobPayloads['delivery.dispatch']): Promise<string> {
    const job = await this.prisma.deliveryJob.findUnique({ where: { id: jobId } });
    if (!job || job.status !== 'QUEUED' || job.attempt !== attempt) return 'not-queued';
    // Only fixed terms are used (window, regions, rate floor): the listing cache serves them.
    const series = (await this.listings.seriesById(job.seriesId))!;
    // The service clock decides business time (the window); operational timestamps are wall time,
    // as the reaper compares them with the database's now().
    const now = this.clock.now();
    const wall = new Date();
    if (now >= series.deliveryEnd) return this.failNoCapacity(job.id, attempt, series.deliveryEnd);
    if (now < series.deliveryStart) {
      // Called off early: it waits in the queue for the window to open (the reaper re-drives it
      // if Redis loses the delayed message).
      const def = JOBS['delivery.dispatch'];
      const delay = Math.min(series.deliveryStart.getTime() - now.getTime(), this.config.delivery.staleMs / 2);
      await this.prisma.deliveryJob.update({ where: { id: job.id }, data: { updatedAt: wall } });
      await this.queues.get(def.queue).add('delivery.dispatch', { jobId, attempt }, { ...def.options, jobId: dispatchJobId(jobId, attempt, `.e${wall.getTime()}`), delay });
      return 'before-window';
    }

    const regions = job.region ? [job.region] : series.product.regions;
    const candidates = await this.repo.eligibleNodes(this.prisma, { sellerId: job.sellerId, modelClass: job.modelClass, regions, minTokensPerSecond: series.product.minTokensPerSecond, tried: job.triedNodes });
    const chosen = candidates[0];
    const decision = {
      at: wall.toISOString(),
      attempt,
      event: chosen ? 'DISPATCHED' : 'NO_ELIGIBLE_NODE',
      nodeId: chosen?.nodeId ?? null,
      why: chosen
        ? `${chosen.triedBefore ? 'only eligible node (tried before)' : 'most spare tokens/s'}: ${chosen.spareTokensPerSecond} of ${chosen.tokensPerSecond} in ${chosen.region}`
        : `no ONLINE node of the seller serves ${job.modelClass} in ${regions.join(', ')}`,
      candidates: candidates.slice(0, 5).map((c) => ({ nodeId: c.nodeId, region: c.region, spare: c.spareTokensPerSecond, triedBefore: c.triedBefore })),
    };
    if (!chosen) {
      const waits = (job.decisions as { event?: string }[]).filter((d) => d.event === 'NO_ELIGIBLE_NODE').length;
      // Backoff, but within the reaper's staleness (it would re-drive a quieter job anyway) and
      // never past the end of the window, when the job must fail.
      const delay = Math.min(500 * 2 ** Math.min(waits, 10), this.config.delivery.staleMs / 2, Math.max(0, series.deliveryEnd.getTime() - now.getTime()));
      await this.prisma.deliveryJob.update({ where: { id: job.id }, data: { decisions: appendDecision(job.decisions, decision), updatedAt: wall } });
      await this.queues.get(JOBS['delivery.dispatch'].queue).add('delivery.dispatch', { jobId, attempt }, { ...JOBS['delivery.dispatch'].options, jobId: dispatchJobId(jobId, attempt, `.w${waits + 1}`), delay });
      return 'waiting-for-capacity';
    }
    const moved = await this.prisma.deliveryJob.updateMany({
      where: { id: job.id, status: 'QUEUED', attempt },
      data: { status: 'DISPATCHED', nodeId: chosen.nodeId, dispatchedAt: wall, updatedAt: wall, decisions: appendDecision(job.decisions, decision) },
    });
    if (moved.count === 0) return 'superseded';
    // After the commit: a crash here leaves a DISPATCHED job the reaper re-adds to the node queue.
    await this.nodes.add(chosen.nodeId, { jobId, attempt });
    return `dispatched:${chosen.nodeId}`;
  }

  private async failNoCapacity(jobId: string, attempt: number, deliveryEnd: Date): Promise<string> {
    await this.prisma.$transaction(async (tx) => {
      const moved = await tx.deliveryJob.updateMany({
        where: { id: jobId, status: 'QUEUED', attempt },
        data: { status: 'FAILED', failureCode: 'NO_CAPACITY', failureReason: `no eligible node of the seller before the window ended (${deliveryEnd.toISOString()})`, operatorFault: true, finishedAt: new Date(), updatedAt: new Date() },
      });
      if (moved.count > 0) await this.failures.settle(tx, [jobId]);
    });
    return 'failed:NO_CAPACITY';
  }
}

export function appendDecision(existing: Prisma.JsonValue, decision: Record<string, unknown>): Prisma.InputJsonValue {
  const list = Array.isArray(existing) ? existing : [];
  // Bounded: a job waiting days for capacity must not grow without limit.
  return [...list, decision].slice(-50) as Prisma.InputJsonValue;
}
