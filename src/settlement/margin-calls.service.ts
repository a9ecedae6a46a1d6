import { isoDate } from '../platform/time/business-date.js';
import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { LedgerEvents } from '../ledger/ledger.events.js';
import { memberScope } from '../platform/auth/ownership.js';
import type { Principal } from '../platform/http/request-context.js';
import { formatFen } from '../platform/money/money.js';
import { PrismaService, type Db } from '../platform/prisma/prisma.service.js';
import { Clock } from '../platform/time/clock.js';

/** Margin calls: opened after settlement for negative free cash, closed once deposits cover it. */
@Injectable()
export class MarginCallsService implements OnModuleDestroy {
  private readonly sub: Subscription;

  constructor(
    private readonly prisma: PrismaService,
    private readonly clock: Clock,
    events: LedgerEvents,
  ) {
    // Fast path; listing also closes covered calls, so a lost event only delays the close.
    this.sub = events.deposited.subscribe(({ memberId }) => void this.closeCovered(this.prisma, memberId).catch(() => undefined));
  }

  onModuleDestroy(): void {
    this.sub.unsubscribe();
  }

  /** A call on each of these members whose free cash is below zero, for the shortfall; one statement. */
  async openForNegativeCash(db: Db, memberIds: string[], runId: string, businessDate: string, dueAt: Date): Promise<number> {
    if (memberIds.length === 0) return 0;
    return db.$executeRaw`
      INSERT INTO margin_calls (id, "memberId", "runId", "businessDate", "amountFen", "dueAt")
      SELECT gen_random_uuid(), "memberId", ${runId}::uuid, ${businessDate}::date, -"balanceFen", ${dueAt}
      FROM ledger_accounts WHERE type = 'CASH' AND "memberId" = ANY(${memberIds}::uuid[]) AND "balanceFen" < 0`;
  }

  /** Closes every open call whose member's free cash is no longer negative. */
  async closeCovered(db: Db, memberId?: string): Promise<number> {
    return db.$executeRaw`
      UPDATE margin_calls mc SET status = 'CLOSED', "closedAt" = now()
      FROM ledger_accounts a
      WHERE mc.status = 'OPEN' AND a."memberId" = mc."memberId" AND a.type = 'CASH' AND a."balanceFen" >= 0
        AND (${memberId ?? null}::uuid IS NULL OR mc."memberId" = ${memberId ?? null}::uuid)`;
  }

  async list(p: Principal, status?: 'OPEN' | 'CLOSED') {
    await this.closeCovered(this.prisma, memberScope(p));
    const now = this.clock.now();
    const rows = await this.prisma.marginCall.findMany({
      where: { memberId: memberScope(p), status },
      orderBy: { createdAt: 'desc' },
      take: 500,
    });
    return rows.map((c) => ({
      id: c.id,
      memberId: c.memberId,
      runId: c.runId,
      businessDate: isoDate(c.businessDate),
      amount: formatFen(c.amountFen),
      currency: 'CNY',
      dueAt: c.dueAt.toISOString(),
      status: c.status,
      overdue: c.status === 'OPEN' && c.dueAt < now,
      closedAt: c.closedAt?.toISOString() ?? null,
    }));
  }
}
