import { Injectable } from '@nestjs/common';
import { PrismaService } from '../prisma/prisma.service.js';

export interface StoredResponse {
  status: number;
  type: string;
  body: string;
}

export type Claim =
  { kind: 'owner'; recordId: string } | { kind: 'replay'; response: StoredResponse } | { kind: 'mismatch' } | { kind: 'busy' };

export interface ClaimRequest {
  memberId: string;
  key: string;
  method: string;
  path: string;
  fingerprint: string;
}

// How long an IN_PROGRESS claim blocks others. A process that died mid-request leaves one behind;
// after this a retry takes it over (business writes are themselves keyed, so nothing doubles).
const LEASE_MS = 30_000;

@Injectable()
export class IdempotencyRepository {
  constructor(private readonly prisma: PrismaService) {}

  async claim(req: ClaimRequest): Promise<Claim> {
    const inserted = await this.prisma.$queryRaw<{ id: string }[]>`
      INSERT INTO idempotency_records (id, "memberId", key, method, path, fingerprint, status, "lockedUntil")
      VALUES (gen_random_uuid(), ${req.memberId}::uuid, ${req.key}, ${req.method}, ${req.path}, ${req.fingerprint},
              'IN_PROGRESS', now() + ${LEASE_MS} * interval '1 millisecond')
      ON CONFLICT ("memberId", key) DO NOTHING
      RETURNING id`;
    if (inserted[0]) return { kind: 'owner', recordId: inserted[0].id };

    const existing = await this.prisma.idempotencyRecord.findUnique({
      where: { memberId_key: { memberId: req.memberId, key: req.key } },
    });
    // Deleted between our insert and read (its owner failed with a 5xx): try again from the top.
    if (!existing) return this.claim(req);
    if (existing.fingerprint !== req.fingerprint) return { kind: 'mismatch' };
    if (existing.status === 'COMPLETED') {
      return {
        kind: 'replay',
        response: {
          status: existing.responseStatus ?? 200,
          type: existing.responseType ?? 'application/json; charset=utf-8',
          body: existing.responseBody ?? '',
        },
      };
    }
    const takenOver = await this.prisma.$queryRaw<{ id: string }[]>`
      UPDATE idempotency_records SET "lockedUntil" = now() + ${LEASE_MS} * interval '1 millisecond'
      WHERE id = ${existing.id}::uuid AND status = 'IN_PROGRESS' AND "lockedUntil" < now()
      RETURNING id`;
    return takenOver[0] ? { kind: 'owner', recordId: takenOver[0].id } : { kind: 'busy' };
  }

  async complete(recordId: string, response: StoredResponse): Promise<void> {
    await this.prisma.idempotencyRecord.update({
      where: { id: recordId },
      data: {
        status: 'COMPLETED',
        responseStatus: response.status,
        responseType: response.type,
        responseBody: response.body,
        completedAt: new Date(),
      },
    });
  }

  /** The request failed in a way a retry may fix (5xx): forget it so the retry runs afresh. */
  async release(recordId: string): Promise<void> {
    await this.prisma.idempotencyRecord.deleteMany({ where: { id: recordId, status: 'IN_PROGRESS' } });
  }

  async purgeOlderThan(cutoff: Date): Promise<number> {
    const { count } = await this.prisma.idempotencyRecord.deleteMany({
      where: { createdAt: { lt: cutoff }, status: 'COMPLETED' },
    });
    return count;
  }
}
