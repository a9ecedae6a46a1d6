import { Injectable } from '@nestjs/common';
import type { AuditOutcome } from '../../generated/prisma/enums.js';
import type { Db } from '../prisma/prisma.service.js';
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
  constructor(private readonly prisma: PrismaService) {}

  async append(entry: AuditEntry, db: Db = this.prisma): Promise<void> {
    await db.auditEvent.create({ data: entry });
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
