import { Injectable } from '@nestjs/common';
import type { MarginCall, Prisma } from '../generated/prisma/client.js';
import type { MarginCallStatus, MarginCallType } from '../generated/prisma/enums.js';
import type { Db } from '../platform/prisma/prisma.service.js';

/** Where a page of margin calls goes on from: the last call it showed, newest first. */
export interface CallPosition {
  createdAt: Date;
  id: string;
}

@Injectable()
export class MarginCallsRepository {
  /** A call on each of these members whose free cash is below zero, for the shortfall; one statement. */
  async openForNegativeCash(db: Db, memberIds: string[], runId: string, businessDate: string, dueAt: Date): Promise<number> {
    if (memberIds.length === 0) return 0;
    return db.$executeRaw`
      INSERT INTO margin_calls (id, "memberId", "runId", type, "businessDate", "amountFen", "dueAt")
      SELECT gen_random_uuid(), "memberId", ${runId}::uuid, 'VARIATION', ${businessDate}::date, -"balanceFen", ${dueAt}
      FROM ledger_accounts WHERE type = 'CASH' AND "memberId" = ANY(${memberIds}::uuid[]) AND "balanceFen" < 0`;
  }

  /** Closes every open VARIATION call (of one member, or of all) whose member's free cash is no longer negative. */
  closeCovered(db: Db, memberId?: string): Promise<number> {
    return db.$executeRaw`
      UPDATE margin_calls mc SET status = 'CLOSED', "closedAt" = now()
      FROM ledger_accounts a
      WHERE mc.status = 'OPEN' AND mc.type = 'VARIATION' AND a."memberId" = mc."memberId" AND a.type = 'CASH' AND a."balanceFen" >= 0
        AND (${memberId ?? null}::uuid IS NULL OR mc."memberId" = ${memberId ?? null}::uuid)`;
  }

  countForRun(db: Db, runId: string): Promise<number> {
    return db.marginCall.count({ where: { runId, type: 'VARIATION' } });
  }

  /** Which of these members have free cash below zero. */
  async negativeCash(db: Db, memberIds: string[]): Promise<Set<string>> {
    const rows = await db.$queryRaw<{ memberId: string }[]>`
      SELECT "memberId" FROM ledger_accounts WHERE type = 'CASH' AND "memberId" = ANY(${memberIds}::uuid[]) AND "balanceFen" < 0`;
    return new Set(rows.map((r) => r.memberId));
  }

  /** Newest first, the id breaking ties, after `after`; `limit` rows at most. */
  page(
    db: Db,
    q: { memberId?: string; status?: MarginCallStatus; type?: MarginCallType; after?: CallPosition; limit: number },
  ): Promise<MarginCall[]> {
    const after: Prisma.MarginCallWhereInput = q.after
      ? { OR: [{ createdAt: { lt: q.after.createdAt } }, { createdAt: q.after.createdAt, id: { lt: q.after.id } }] }
      : {};
    return db.marginCall.findMany({
      where: { memberId: q.memberId, status: q.status, type: q.type, ...after },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: q.limit,
    });
  }
}
