import { Injectable } from '@nestjs/common';
import { AuditRepository } from '../platform/audit/audit.repository.js';
import { decodeCursor, toPage } from '../platform/pagination/page.js';
import type { AuditQueryDto } from './dto/reconciliation.dto.js';

/** The audit trail as clearing staff read it: newest first, a page at a time. */
@Injectable()
export class AuditTrailService {
  constructor(private readonly audit: AuditRepository) {}

  async list(q: AuditQueryDto) {
    const limit = q.limit ?? 50;
    // At most 18 digits: every such number fits the bigint sequence column.
    const after = decodeCursor(q.cursor, /^\d{1,18}$/);
    const rows = await this.audit.list({
      actorMemberId: q.actorMemberId,
      actorKeyId: q.actorKeyId,
      action: q.action,
      targetType: q.targetType,
      targetId: q.targetId,
      from: q.from ? new Date(q.from) : undefined,
      to: q.to ? new Date(q.to) : undefined,
      afterSeq: after ? BigInt(after) : undefined,
      limit: limit + 1,
    });
    return toPage(
      rows,
      limit,
      (e) => e.seq.toString(),
      (e) => ({ ...e, seq: e.seq.toString(), createdAt: e.createdAt.toISOString() }),
    );
  }
}
