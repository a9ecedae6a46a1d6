import { Injectable } from '@nestjs/common';
import type { Adjustment } from '../generated/prisma/client.js';
import type { Db, Tx } from '../platform/prisma/prisma.service.js';
import type { AdjustmentPayload } from './adjustments.service.js';

export type AdjustmentStatus = 'PENDING' | 'APPROVED' | 'REJECTED';

/** Four-eyes adjustments: proposals and the decision taken on each. */
@Injectable()
export class AdjustmentsRepository {
  create(db: Db, data: AdjustmentPayload & { payloadHash: string; proposedByKeyId: string }): Promise<Adjustment> {
    return db.adjustment.create({ data });
  }

  find(db: Db, id: string): Promise<Adjustment | null> {
    return db.adjustment.findUnique({ where: { id } });
  }

  /** The row, locked until the transaction ends: one decision per adjustment. */
  async lock(tx: Tx, id: string): Promise<Adjustment | undefined> {
    const [a] = await tx.$queryRaw<Adjustment[]>`SELECT * FROM adjustments WHERE id = ${id}::uuid FOR UPDATE`;
    return a;
  }

  decide(
    db: Db,
    id: string,
    decision: { status: 'APPROVED' | 'REJECTED'; decidedByKeyId: string; transferId?: string; decisionComment?: string },
  ): Promise<Adjustment> {
    return db.adjustment.update({ where: { id }, data: { ...decision, decidedAt: new Date() } });
  }

  /** One page, newest first; `after` is the previous page's last (createdAt, id). */
  page(
    db: Db,
    status: AdjustmentStatus | undefined,
    after: { createdAt: Date; id: string } | undefined,
    take: number,
  ): Promise<Adjustment[]> {
    return db.adjustment.findMany({
      where: {
        status,
        ...(after ? { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] } : {}),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take,
    });
  }
}
