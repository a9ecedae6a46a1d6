import { Injectable } from '@nestjs/common';
import type { DeliveryJob, Prisma, UsageRecord } from '../generated/prisma/client.js';
import type { DeliveryJobStatus } from '../generated/prisma/enums.js';
import type { Db, RawSql, Tx } from '../platform/prisma/prisma.service.js';

/**
 * Delivery jobs one at a time, through Prisma: lookups, the buyer's list, a node's failure
 * report, the window close. The batched hot paths (submission, dispatch, lease, completion) are
 * in JobBatchRepository.
 */
@Injectable()
export class DeliveryJobsRepository {
  find(db: Db, id: string): Promise<DeliveryJob | null> {
    return db.deliveryJob.findUnique({ where: { id } });
  }

  async exists(db: Db, id: string): Promise<boolean> {
    return (await db.deliveryJob.findUnique({ where: { id }, select: { id: true } })) !== null;
  }

  /** A job with what its view shows beside it: its series' code and its usage record. */
  async withView(db: Db, id: string): Promise<{ job: DeliveryJob; seriesCode: string; usage: UsageRecord | null }> {
    const job = await db.deliveryJob.findUniqueOrThrow({ where: { id } });
    const [series, usage] = await Promise.all([
      db.series.findUniqueOrThrow({ where: { id: job.seriesId }, select: { code: true } }),
      db.usageRecord.findUnique({ where: { jobId: id } }),
    ]);
    return { job, seriesCode: series.code, usage };
  }

  /** The usage records of a page of jobs (its metering, for the list view). */
  usageOf(db: Db, jobIds: string[]): Promise<UsageRecord[]> {
    return db.usageRecord.findMany({ where: { jobId: { in: jobIds } } });
  }

  byIds(db: Db, ids: string[]): Promise<DeliveryJob[]> {
    return db.deliveryJob.findMany({ where: { id: { in: ids } } });
  }

  /** One page, newest first (by seq, unique), before `beforeSeq`: limit + 1 rows. */
  page(db: Db, q: { memberId?: string; status?: DeliveryJobStatus; beforeSeq?: bigint; limit: number }): Promise<DeliveryJob[]> {
    return db.deliveryJob.findMany({
      where: {
        // A verification re-run is the verifying operator's job, not one the buyer submitted.
        ...(q.memberId ? { OR: [{ buyerId: q.memberId, verifiesJobId: null }, { sellerId: q.memberId }] } : {}),
        ...(q.status ? { status: q.status } : {}),
        ...(q.beforeSeq !== undefined ? { seq: { lt: q.beforeSeq } } : {}),
      },
      orderBy: { seq: 'desc' },
      take: q.limit + 1,
    });
  }

  update(tx: Tx, id: string, data: Prisma.DeliveryJobUpdateInput): Promise<DeliveryJob> {
    return tx.deliveryJob.update({ where: { id }, data });
  }

  /** Of these jobs, those the buyer asked to be called back about. */
  async withCallback(tx: Tx, ids: string[]): Promise<string[]> {
    const rows = await tx.deliveryJob.findMany({ where: { id: { in: ids }, callbackUrl: { not: null } }, select: { id: true } });
    return rows.map((j) => j.id);
  }

  /** Fails the series' jobs still unfinished when its delivery window closed; returns their ids. */
  async failUnfinished(tx: Tx, seriesId: string): Promise<string[]> {
    const unfinished = await tx.deliveryJob.findMany({
      where: { seriesId, status: { in: ['QUEUED', 'DISPATCHED', 'LEASED'] } },
      select: { id: true },
    });
    const ids = unfinished.map((j) => j.id);
    await tx.deliveryJob.updateMany({
      where: { id: { in: ids } },
      data: {
        status: 'FAILED',
        failureCode: 'WINDOW_CLOSED',
        failureReason: 'not delivered before the end of the delivery window',
        operatorFault: true,
        finishedAt: new Date(),
        leaseToken: null,
        // No lease runs on a finished job (the index of running leases' tokens holds none of these).
        leaseExpiresAt: null,
        updatedAt: new Date(),
      },
    });
    return ids;
  }

  /**
   * Another lease period for the node's leases (those named, or all of them); returns the jobs
   * extended. Every lock is taken in id order, as a completion batch takes its jobs': waiting in
   * the index's order instead, the heartbeat deadlocked with completion batches, and Postgres broke
   * the deadlock only after a second by failing the batch (bench:delivery's slowest runs).
   *
   * First the rows free now (SKIP LOCKED), so one held job does not hold back the node's other
   * leases; then the rows that were held, waiting for each in turn. Passing over those for good
   * would let anyone who can hold a job's row — any node naming the job in a completion or a
   * failure, locked before its lease is checked — starve an honest node's lease until it lapsed.
   * The wait costs the agent nothing: heartbeats answer before their extension runs.
   */
  async extendLeases(
    db: RawSql,
    nodeId: string,
    leaseMs: number,
    leases: string[] | undefined,
  ): Promise<{ id: string; leaseToken: string }[]> {
    const free = await db.$queryRaw<{ id: string; leaseToken: string }[]>`
      UPDATE delivery_jobs j SET "leaseExpiresAt" = now() + ${leaseMs} * interval '1 millisecond'
      FROM (
        SELECT id FROM delivery_jobs
        WHERE "nodeId" = ${nodeId}::uuid AND status = 'LEASED' AND (${leases ?? null}::text[] IS NULL OR "leaseToken" = ANY(${leases ?? null}::text[]))
        ORDER BY id FOR UPDATE SKIP LOCKED
      ) l
      WHERE j.id = l.id
      RETURNING j.id, j."leaseToken"`;
    const held = await db.$queryRaw<{ id: string; leaseToken: string }[]>`
      UPDATE delivery_jobs j SET "leaseExpiresAt" = now() + ${leaseMs} * interval '1 millisecond'
      FROM (
        SELECT id FROM delivery_jobs
        WHERE "nodeId" = ${nodeId}::uuid AND status = 'LEASED' AND (${leases ?? null}::text[] IS NULL OR "leaseToken" = ANY(${leases ?? null}::text[]))
          AND NOT (id = ANY(${free.map((r) => r.id)}::uuid[]))
        ORDER BY id FOR UPDATE
      ) l
      WHERE j.id = l.id
      RETURNING j.id, j."leaseToken"`;
    return [...free, ...held];
  }
}
