import { Injectable } from '@nestjs/common';
import type { Break, Prisma, ReconciliationRun } from '../generated/prisma/client.js';
import type { Db, Tx } from '../platform/prisma/prisma.service.js';
import type { Difference } from './checks.js';

// Runs never overlap: two concurrent runs could both open the same break.
const RECON_LOCK = 727_275;

export interface BreakFilter {
  status?: 'OPEN' | 'RESOLVED' | 'CLEARED';
  type?: string;
  memberId?: string;
  /** Only breaks first seen at or before this instant. */
  firstSeenBy?: Date;
}

/** Reconciliation runs and the breaks they open, refresh and clear. */
@Injectable()
export class ReconciliationRepository {
  createRun(db: Db, data: { trigger: 'MANUAL' | 'SETTLEMENT' | 'BANK_STATEMENT'; requestedBy?: string; settlementRunId?: string }) {
    return db.reconciliationRun.create({ data });
  }

  /** Held until the transaction ends. */
  async lockRuns(tx: Tx): Promise<void> {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${RECON_LOCK})`;
  }

  completeRun(
    db: Db,
    id: string,
    result: { checks: Prisma.InputJsonValue; breaksOpened: number; breaksCleared: number; openBreaks: number },
  ): Promise<ReconciliationRun> {
    return db.reconciliationRun.update({ where: { id }, data: { status: 'COMPLETED', ...result, finishedAt: new Date() } });
  }

  async failRun(db: Db, id: string, error: string): Promise<void> {
    await db.reconciliationRun.update({ where: { id }, data: { status: 'FAILED', error, finishedAt: new Date() } });
  }

  findRun(db: Db, id: string): Promise<ReconciliationRun | null> {
    return db.reconciliationRun.findUnique({ where: { id } });
  }

  /** Whether a reconciliation run was started after the given settlement run finished. */
  async runAfterSettlement(db: Db, settlementRunId: string): Promise<boolean> {
    const settled = await db.settlementRun.findUnique({ where: { id: settlementRunId }, select: { finishedAt: true } });
    if (!settled?.finishedAt) return false;
    return (await db.reconciliationRun.findFirst({ where: { createdAt: { gt: settled.finishedAt } }, select: { id: true } })) !== null;
  }

  openBreaks(db: Db): Promise<{ id: string; type: string; key: string }[]> {
    return db.break.findMany({ where: { status: 'OPEN' }, select: { id: true, type: true, key: true } });
  }

  async openBreaksFor(db: Db, runId: string, found: Difference[]): Promise<void> {
    await db.break.createMany({
      data: found.map((d) => ({ ...d, references: d.references as Prisma.InputJsonValue, firstRunId: runId, lastRunId: runId })),
    });
  }

  /** Differences still open are refreshed in one statement (their amounts may have moved). */
  async refreshBreaks(db: Db, runId: string, rows: { id: string; expected: string; actual: string; difference: string }[]): Promise<void> {
    if (rows.length === 0) return;
    await db.$executeRaw`
      UPDATE breaks b SET expected = u.expected, actual = u.actual, difference = u.difference, "lastSeenAt" = now(), "lastRunId" = ${runId}::uuid
      FROM unnest(${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => r.expected)}::text[],
                  ${rows.map((r) => r.actual)}::text[], ${rows.map((r) => r.difference)}::text[]) AS u(id, expected, actual, difference)
      WHERE b.id = u.id`;
  }

  async clearBreaks(db: Db, ids: string[]): Promise<void> {
    await db.break.updateMany({ where: { id: { in: ids } }, data: { status: 'CLEARED', clearedAt: new Date() } });
  }

  /** One page in first-seen order; `after` is the previous page's last (firstSeenAt, id). */
  breaksPage(db: Db, filter: BreakFilter, after: { firstSeenAt: Date; id: string } | undefined, take: number): Promise<Break[]> {
    return db.break.findMany({
      where: {
        status: filter.status,
        type: filter.type,
        memberId: filter.memberId,
        ...(filter.firstSeenBy ? { firstSeenAt: { lte: filter.firstSeenBy } } : {}),
        ...(after ? { OR: [{ firstSeenAt: { gt: after.firstSeenAt } }, { firstSeenAt: after.firstSeenAt, id: { gt: after.id } }] } : {}),
      },
      orderBy: [{ firstSeenAt: 'asc' }, { id: 'asc' }],
      take,
    });
  }

  findBreak(db: Db, id: string): Promise<Break | null> {
    return db.break.findUnique({ where: { id } });
  }

  /** Resolves the break if it is still open; false when it was not (or does not exist). */
  async resolveOpenBreak(db: Db, id: string, data: { resolvedBy: string; comment: string; adjustmentId?: string }): Promise<boolean> {
    const moved = await db.break.updateMany({
      where: { id, status: 'OPEN' },
      data: { status: 'RESOLVED', resolvedAt: new Date(), ...data },
    });
    return moved.count > 0;
  }
}
