import { Injectable } from '@nestjs/common';
import type { WebhookDelivery } from '../generated/prisma/client.js';
import type { Db } from '../platform/prisma/prisma.service.js';

/** Members' webhook signing secrets and the record of every delivery attempt. */
@Injectable()
export class WebhooksRepository {
  /** The member's secret, stored as `secret` when it has none yet. */
  async secretOrCreate(db: Db, memberId: string, secret: string): Promise<string> {
    const row = await db.webhookSecret.upsert({ where: { memberId }, create: { memberId, secret }, update: {} });
    return row.secret;
  }

  async replaceSecret(db: Db, memberId: string, secret: string): Promise<void> {
    await db.webhookSecret.upsert({
      where: { memberId },
      create: { memberId, secret },
      update: { secret, createdAt: new Date() },
    });
  }

  async recordAttempt(
    db: Db,
    data: {
      jobId: string;
      memberId: string;
      url: string;
      attempt: number;
      httpStatus?: number;
      error?: string;
      ok: boolean;
      refused: boolean;
    },
  ): Promise<void> {
    await db.webhookDelivery.create({ data });
  }

  /** A job's attempts, oldest first, after the (createdAt, id) of `after`: limit + 1 rows. */
  attempts(db: Db, jobId: string, after: { createdAt: Date; id: string } | undefined, limit: number): Promise<WebhookDelivery[]> {
    return db.webhookDelivery.findMany({
      where: {
        jobId,
        ...(after ? { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] } : {}),
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: limit + 1,
    });
  }
}
