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
   * extended. Rows are locked in id order and a row another transaction holds is passed over, never
   * waited for: that transaction is completing, failing or reaping the job, which ends its lease
   * anyway, and the next heartbeat extends it should it still run. Waiting for it, the heartbeat
   * locked rows in the index's order while a completion batch locked them in id order — a deadlock
   * Postgres broke only after a second, failing the batch (bench:delivery's slowest runs).
   */
  extendLeases(
    db: RawSql,
    nodeId: string,
    leaseMs: number,
    leases: string[] | undefined,
  ): PromiseLike<{ id: string; leaseToken: string }[]> {
    return db.$queryRaw<{ id: string; leaseToken: string }[]>`
      UPDATE delivery_jobs j SET "leaseExpiresAt" = now() + ${leaseMs} * interval '1 millisecond'
      FROM (
        SELECT id FROM delivery_jobs
        WHERE "nodeId" = ${nodeId}::uuid AND status = 'LEASED' AND (${leases ?? null}::text[] IS NULL OR "leaseToken" = ANY(${leases ?? null}::text[]))
        ORDER BY id FOR UPDATE SKIP LOCKED
      ) l
      WHERE j.id = l.id
      RETURNING j.id, j."leaseToken"`;
  }
}
