import { Injectable } from '@nestjs/common';
import type { Prisma, SettlementRun } from '../generated/prisma/client.js';
import type { SettlementRunType } from '../generated/prisma/enums.js';
import type { Db, Tx } from '../platform/prisma/prisma.service.js';
import { dateColumn } from '../platform/time/business-date.js';

/** The newest-first sort key of a run: a page goes on after the last run it showed. */
export interface RunPosition {
  createdAt: Date;
  id: string;
}

/** The settlement_runs table: a run's identity, state machine and progress. */
@Injectable()
export class SettlementRunsRepository {
  find(db: Db, id: string): Promise<SettlementRun | null> {
    return db.settlementRun.findUnique({ where: { id } });
  }

  /** The EXPIRY or DELIVERY_CLOSE run of a series and date (unique). */
  findForSeries(db: Db, type: SettlementRunType, businessDate: string, seriesId: string): Promise<SettlementRun | null> {
    return db.settlementRun.findUnique({
      where: { type_businessDate_seriesId: { type, businessDate: dateColumn(businessDate), seriesId } },
    });
  }

  create(db: Db, data: { type: SettlementRunType; businessDate: string; seriesId?: string; requestedBy?: string; phase?: string }) {
    return db.settlementRun.create({ data: { ...data, businessDate: dateColumn(data.businessDate) } });
  }

  /** Runs by id, oldest first. */
  byIds(db: Db, ids: string[]): Promise<SettlementRun[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return db.settlementRun.findMany({ where: { id: { in: ids } }, orderBy: { createdAt: 'asc' } });
  }

  /** Serialises DAILY starts of one date until the caller's transaction ends. */
  async lockDailyStarts(tx: Tx, businessDate: string): Promise<void> {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`settlement-daily:${businessDate}`}))`;
  }

  completedExpiry(db: Db, seriesId: string): Promise<SettlementRun | null> {
    return db.settlementRun.findFirst({ where: { type: 'EXPIRY', seriesId, status: 'COMPLETED' } });
  }

  /**
   * Runs of a business date (or created since `since`), newest first with the id as tie-break,
   * after `after`; `limit` rows at most.
   */
  page(db: Db, q: { businessDate?: string; since: Date; after?: RunPosition; limit: number }): Promise<SettlementRun[]> {
    const scope: Prisma.SettlementRunWhereInput = q.businessDate
      ? { businessDate: dateColumn(q.businessDate) }
      : { createdAt: { gte: q.since } };
    const after: Prisma.SettlementRunWhereInput = q.after
      ? { OR: [{ createdAt: { lt: q.after.createdAt } }, { createdAt: q.after.createdAt, id: { lt: q.after.id } }] }
      : {};
    return db.settlementRun.findMany({ where: { AND: [scope, after] }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: q.limit });
  }

  /** Takes a run that is not finished for this attempt; false when it is COMPLETED already. */
  async claim(db: Db, id: string, now: Date): Promise<boolean> {
    const claimed = await db.settlementRun.updateMany({
      where: { id, status: { in: ['PENDING', 'RUNNING', 'FAILED'] } },
      data: { status: 'RUNNING', attempts: { increment: 1 }, startedAt: now, error: null },
    });
    return claimed.count > 0;
  }

  update(db: Db, id: string, data: Prisma.SettlementRunUpdateInput): Promise<SettlementRun> {
    return db.settlementRun.update({ where: { id }, data });
  }

  /** Progress of a run still RUNNING; a write landing after it completed changes nothing. */
  async progressIfRunning(db: Db, id: string, processed: number, total: number): Promise<void> {
    await db.settlementRun.updateMany({ where: { id, status: 'RUNNING' }, data: { processedItems: processed, totalItems: total } });
  }
}
