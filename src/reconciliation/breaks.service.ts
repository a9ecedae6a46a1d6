import { Injectable } from '@nestjs/common';
import type { Break } from '../generated/prisma/client.js';
import { DomainError } from '../platform/errors/error-codes.js';
import type { Principal } from '../platform/http/request-context.js';
import { decodeCursor, toPage } from '../platform/pagination/page.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import type { BreaksQueryDto } from './dto/reconciliation.dto.js';
import { AdjustmentsRepository } from './adjustments.repository.js';
import { ReconciliationRepository } from './reconciliation.repository.js';

export function breakView(b: Break, now = new Date()) {
  const ageSeconds = Math.max(
    0,
    Math.floor(((b.status === 'OPEN' ? now : (b.resolvedAt ?? b.clearedAt ?? now)).getTime() - b.firstSeenAt.getTime()) / 1000),
  );
  return {
    id: b.id,
    type: b.type,
    key: b.key,
    memberId: b.memberId,
    unit: b.unit,
    expected: b.expected,
    actual: b.actual,
    difference: b.difference,
    references: b.references,
    status: b.status,
    firstSeenAt: b.firstSeenAt.toISOString(),
    lastSeenAt: b.lastSeenAt.toISOString(),
    ageSeconds,
    age:
      ageSeconds < 3600
        ? `${Math.floor(ageSeconds / 60)} min`
        : ageSeconds < 86_400
          ? `${Math.floor(ageSeconds / 3600)} h`
          : `${Math.floor(ageSeconds / 86_400)} d`,
    resolvedAt: b.resolvedAt?.toISOString() ?? null,
    resolvedBy: b.resolvedBy,
    comment: b.comment,
    adjustmentId: b.adjustmentId,
    clearedAt: b.clearedAt?.toISOString() ?? null,
  };
}

@Injectable()
export class BreaksService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: ReconciliationRepository,
    private readonly adjustments: AdjustmentsRepository,
  ) {}

  async list(q: BreaksQueryDto) {
    const limit = q.limit ?? 50;
    const after = decodeCursor(q.cursor, /^\d{13}\|[0-9a-f-]{36}$/);
    const [afterMs, afterId] = after ? after.split('|') : [];
    const rows = await this.repo.breaksPage(
      this.tx.root,
      {
        status: q.status,
        type: q.type,
        memberId: q.memberId,
        firstSeenBy: q.minAgeHours !== undefined ? new Date(Date.now() - q.minAgeHours * 3_600_000) : undefined,
      },
      after ? { firstSeenAt: new Date(Number(afterMs)), id: afterId } : undefined,
      limit + 1,
    );
    const now = new Date();
    return toPage(
      rows,
      limit,
      (b) => `${String(b.firstSeenAt.getTime()).padStart(13, '0')}|${b.id}`,
      (b) => breakView(b, now),
    );
  }

  async resolve(p: Principal, id: string, comment: string, adjustmentId?: string): Promise<Break> {
    if (adjustmentId && !(await this.adjustments.find(this.tx.root, adjustmentId)))
      throw new DomainError('NOT_FOUND', 'adjustment not found');
    const moved = await this.repo.resolveOpenBreak(this.tx.root, id, { resolvedBy: p.keyId, comment, adjustmentId });
    const b = await this.repo.findBreak(this.tx.root, id);
    if (!b) throw new DomainError('NOT_FOUND', 'break not found');
    if (!moved) throw new DomainError('BREAK_NOT_OPEN', `break is ${b.status}`);
    return b;
  }
}
