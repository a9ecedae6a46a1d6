import { Injectable } from '@nestjs/common';
import type { AuditOutcome } from '../../generated/prisma/enums.js';
import { fulfilled, GroupCommit } from '../batching/group-commit.js';
import { PrismaService, type RawSql } from '../prisma/prisma.service.js';
import { SqlTx } from '../prisma/sql-tx.js';

export interface AuditEntry {
  actorMemberId?: string;
  actorKeyId?: string;
  role?: string;
  action: string;
  targetType?: string;
  targetId?: string;
  requestId?: string;
  idempotencyKey?: string;
  outcome: AuditOutcome;
  httpStatus?: number;
  errorCode?: string;
}

/**
 * One audit event for a request whose items may commit in several group-committed transactions
 * (a batch of submissions, a node's completion report): written by the first transaction that
 * commits any of them, inside it, and marked once that transaction has committed.
 */
export interface SharedAuditEvent {
  entry: AuditEntry;
  audited: boolean;
}

/** The shared events among `events` that no committed transaction wrote yet, each once. */
export function unwritten(events: Iterable<SharedAuditEvent | undefined>): SharedAuditEvent[] {
  const out = new Set<SharedAuditEvent>();
  for (const e of events) if (e && !e.audited) out.add(e);
  return [...out];
}

/** Append-only: this class has no update or delete, and the table's trigger refuses both. */
@Injectable()
export class AuditRepository {
  /**
   * Appends that arrive while one is being written go together in one INSERT: the hash chain's
   * lock and the commit are paid once for all of them (rows chain in the order they arrived).
   */
  private readonly appends = new GroupCommit<AuditEntry, void>(async (entries) => {
    // Straight on the pg pool (every mutating request appends).
    await this.appendMany(new SqlTx(this.prisma.pool), entries);
    return entries.map(() => fulfilled(undefined));
  });

  constructor(private readonly prisma: PrismaService) {}

  /**
   * Appends events in one statement, rows chained in the given order; in the caller's
   * transaction when it is one (the chain's lock is then held until it commits: do it last).
   */
  async appendMany(db: RawSql, entries: AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const col = <T>(f: (e: AuditEntry) => T | undefined) => entries.map((e) => f(e) ?? null);
    await db.$executeRaw`
      INSERT INTO audit_events (id, "actorMemberId", "actorKeyId", role, action, "targetType", "targetId", "requestId", "idempotencyKey", outcome, "httpStatus", "errorCode")
      SELECT gen_random_uuid(), actor, key, role, action, ttype, tid, rid, ikey, outcome::"AuditOutcome", status, ecode
      FROM unnest(${col((e) => e.actorMemberId)}::uuid[], ${col((e) => e.actorKeyId)}::uuid[], ${col((e) => e.role)}::text[], ${col((e) => e.action)}::text[],
                  ${col((e) => e.targetType)}::text[], ${col((e) => e.targetId)}::text[], ${col((e) => e.requestId)}::text[], ${col((e) => e.idempotencyKey)}::text[],
                  ${col((e) => e.outcome)}::text[], ${col((e) => e.httpStatus)}::int[], ${col((e) => e.errorCode)}::text[]) WITH ORDINALITY
           AS e(actor, key, role, action, ttype, tid, rid, ikey, outcome, status, ecode, n)
      ORDER BY n`;
  }

  /** Appends an event (with those that arrive meanwhile); `appendMany` writes in a transaction. */
  async append(entry: AuditEntry): Promise<void> {
    await this.appends.run(entry);
  }

  async list(filter: {
    actorMemberId?: string;
    actorKeyId?: string;
    action?: string;
    targetType?: string;
    targetId?: string;
    from?: Date;
    to?: Date;
    afterSeq?: bigint;
    limit: number;
  }) {
    return this.prisma.auditEvent.findMany({
      where: {
        actorMemberId: filter.actorMemberId,
        actorKeyId: filter.actorKeyId,
        action: filter.action,
        targetType: filter.targetType,
        targetId: filter.targetId,
        createdAt: filter.from || filter.to ? { gte: filter.from, lt: filter.to } : undefined,
        seq: filter.afterSeq === undefined ? undefined : { lt: filter.afterSeq },
      },
      orderBy: { seq: 'desc' },
      take: filter.limit,
    });
  }
}
