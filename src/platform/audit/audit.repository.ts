import { Injectable } from '@nestjs/common';
import type { AuditOutcome } from '../../generated/prisma/enums.js';
import type { Db } from '../prisma/prisma.service.js';
import { fulfilled, GroupCommit } from '../batching/group-commit.js';
import { PrismaService } from '../prisma/prisma.service.js';

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

/** Append-only: this class has no update or delete, and the table's trigger refuses both. */
@Injectable()
export class AuditRepository {
  /**
   * Appends that arrive while one is being written go together in one INSERT: the hash chain's
   * lock and the commit are paid once for all of them (rows chain in the order they arrived).
   */
  private readonly appends = new GroupCommit<AuditEntry, void>(async (entries) => {
    const col = <T>(f: (e: AuditEntry) => T | undefined) => entries.map((e) => f(e) ?? null);
    // Straight on the pg pool (every mutating request appends); one statement, rows in order.
    await this.prisma.pool.query(
      `INSERT INTO audit_events (id, "actorMemberId", "actorKeyId", role, action, "targetType", "targetId", "requestId", "idempotencyKey", outcome, "httpStatus", "errorCode")
       SELECT gen_random_uuid(), actor, key, role, action, ttype, tid, rid, ikey, outcome::"AuditOutcome", status, ecode
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[], $11::text[]) WITH ORDINALITY
            AS e(actor, key, role, action, ttype, tid, rid, ikey, outcome, status, ecode, n)
       ORDER BY n`,
      [col((e) => e.actorMemberId), col((e) => e.actorKeyId), col((e) => e.role), col((e) => e.action), col((e) => e.targetType), col((e) => e.targetId), col((e) => e.requestId), col((e) => e.idempotencyKey), col((e) => e.outcome), col((e) => e.httpStatus), col((e) => e.errorCode)],
    );
    return entries.map(() => fulfilled(undefined));
  });

  constructor(private readonly prisma: PrismaService) {}

  /** Appends an event, in the caller's transaction when given one. */
  async append(entry: AuditEntry, db?: Db): Promise<void> {
    if (db) await db.auditEvent.create({ data: entry });
    else await this.appends.run(entry);
  }

  async list(filter: { actorMemberId?: string; actorKeyId?: string; action?: string; targetType?: string; targetId?: string; from?: Date; to?: Date; afterSeq?: bigint; limit: number }) {
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
