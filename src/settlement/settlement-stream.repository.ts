import { Injectable } from '@nestjs/common';
import type { Db } from '../platform/prisma/prisma.service.js';

/** What /v1/stream publishes after a settlement run commits, read back from the committed state. */
@Injectable()
export class SettlementStreamRepository {
  run(db: Db, runId: string) {
    return db.settlementRun.findUnique({
      where: { id: runId },
      select: { id: true, type: true, status: true, businessDate: true, seriesId: true, createdAt: true, startedAt: true },
    });
  }

  /** The run's series: one (EXPIRY, DELIVERY_CLOSE) or the set a DAILY run covered. */
  async seriesOfRun(db: Db, runId: string, seriesId: string | null) {
    const ids = seriesId
      ? [seriesId]
      : (await db.settlementRunSeries.findMany({ where: { runId }, select: { seriesId: true } })).map((r) => r.seriesId);
    return db.series.findMany({ where: { id: { in: ids } }, select: { id: true, code: true, status: true }, orderBy: { code: 'asc' } });
  }

  prices(db: Db, seriesIds: string[], businessDate: Date) {
    return db.settlementPrice.findMany({
      where: { seriesId: { in: seriesIds }, businessDate },
      select: { seriesId: true, priceFen: true, method: true },
    });
  }

  /** A series' delivery obligations (allocated by its EXPIRY run, settled by its DELIVERY_CLOSE run). */
  obligations(db: Db, seriesId: string) {
    return db.deliveryObligation.findMany({ where: { seriesId }, orderBy: { seq: 'asc' } });
  }

  /** Calls the run opened, and calls closed since it started (its completion closes the covered ones). */
  marginCalls(db: Db, runId: string, since: Date) {
    return db.marginCall.findMany({
      where: { OR: [{ runId }, { closedAt: { gte: since } }] },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
  }

  /** A member's calls closed since `since` (a deposit's close job). */
  closedCallsOf(db: Db, memberId: string, since: Date) {
    return db.marginCall.findMany({
      where: { memberId, status: 'CLOSED', closedAt: { gte: since } },
      orderBy: [{ closedAt: 'asc' }, { id: 'asc' }],
    });
  }
}
