import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import type { MarginCall } from '../generated/prisma/client.js';
import { LedgerEvents } from '../ledger/ledger.events.js';
import { memberScope } from '../platform/auth/ownership.js';
import type { Principal } from '../platform/http/request-context.js';
import { formatFen } from '../platform/money/money.js';
import { decodeCursor, toPage } from '../platform/pagination/page.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import type { JobPayloads } from '../platform/queues/job-registry.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { isoDate } from '../platform/time/business-date.js';
import { Clock } from '../platform/time/clock.js';
import type { MarginCallsQueryDto } from './dto/settlement.dto.js';
import { MarginCallsRepository } from './margin-calls.repository.js';
import { MaintenanceMarginService } from './maintenance-margin.service.js';
import { SettlementStream } from './settlement-stream.service.js';

const CURSOR = /^\d{13}\|[0-9a-f-]{36}$/;

/**
 * Margin calls: VARIATION calls open after settlement for negative free cash and close once the
 * member's cash is no longer negative; MAINTENANCE calls (MaintenanceMarginService) open when equity
 * falls below the maintenance requirement and close once it covers it again — by the job each deposit enqueues in its own transaction, and by every
 * settlement run's completion. Reading them never writes.
 */
@Injectable()
export class MarginCallsService implements OnModuleDestroy {
  private readonly logger = new Logger(MarginCallsService.name);
  private readonly sub: Subscription;

  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: MarginCallsRepository,
    private readonly clock: Clock,
    private readonly maintenance: MaintenanceMarginService,
    private readonly stream: SettlementStream,
    outbox: OutboxService,
    events: LedgerEvents,
  ) {
    // The deposit committed its close job with it; relay it now rather than at the next poll.
    this.sub = events.deposited.subscribe(() => outbox.poke());
  }

  onModuleDestroy(): void {
    this.sub.unsubscribe();
  }

  @JobHandler('settlement.close-covered-calls')
  async closeCovered({ memberId }: JobPayloads['settlement.close-covered-calls']): Promise<{ closed: number }> {
    // VARIATION: cash no longer negative; MAINTENANCE: equity covers the maintenance requirement again.
    const since = new Date(Date.now() - 1_000);
    const closed = (await this.repo.closeCovered(this.tx.root, memberId)) + (await this.maintenance.closeCovered(this.tx.root, memberId));
    if (closed > 0) {
      this.logger.log({ member: memberId, closed }, 'margin calls covered by a deposit closed');
      this.stream.afterCallsClosed(memberId, since);
    }
    return { closed };
  }

  async list(p: Principal, q: MarginCallsQueryDto) {
    const limit = q.limit ?? 50;
    const after = decodeCursor(q.cursor, CURSOR);
    const [ms, id] = after ? after.split('|') : [];
    const rows = await this.repo.page(this.tx.root, {
      memberId: memberScope(p),
      status: q.status,
      type: q.type,
      after: after ? { createdAt: new Date(Number(ms)), id } : undefined,
      limit: limit + 1,
    });
    const now = this.clock.now();
    return toPage(
      rows,
      limit,
      (c) => `${String(c.createdAt.getTime()).padStart(13, '0')}|${c.id}`,
      (c) => callView(c, now),
    );
  }
}

function callView(c: MarginCall, now: Date) {
  return {
    id: c.id,
    memberId: c.memberId,
    runId: c.runId,
    type: c.type,
    businessDate: isoDate(c.businessDate),
    amount: formatFen(c.amountFen),
    currency: 'CNY',
    dueAt: c.dueAt.toISOString(),
    status: c.status,
    overdue: c.status === 'OPEN' && c.dueAt < now,
    closedAt: c.closedAt?.toISOString() ?? null,
  };
}
