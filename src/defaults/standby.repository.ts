import { Injectable } from '@nestjs/common';
import type { Prisma, StandbyOffer } from '../generated/prisma/client.js';
import type { Db, Tx } from '../platform/prisma/prisma.service.js';

@Injectable()
export class StandbyRepository {
  create(db: Db, data: Prisma.StandbyOfferUncheckedCreateInput): Promise<StandbyOffer> {
    return db.standbyOffer.create({ data });
  }

  /** Newest first, after (createdAt, id): limit + 1 rows. */
  page(db: Db, q: { operatorId?: string; after?: { createdAt: Date; id: string }; limit: number }): Promise<StandbyOffer[]> {
    const after: Prisma.StandbyOfferWhereInput = q.after
      ? { OR: [{ createdAt: { lt: q.after.createdAt } }, { createdAt: q.after.createdAt, id: { lt: q.after.id } }] }
      : {};
    return db.standbyOffer.findMany({
      where: { operatorId: q.operatorId, ...after },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: q.limit + 1,
    });
  }

  /**
   * Open offers that can stand in: the model class, a region the product allows, an ACTIVE operator
   * other than the parties — lowest premium first, then oldest; row-locked.
   */
  candidates(tx: Tx, q: { modelClass: string; regions: string[]; exclude: string[] }): Promise<StandbyOffer[]> {
    return tx.$queryRaw<StandbyOffer[]>`
      SELECT o.* FROM standby_offers o JOIN members m ON m.id = o."operatorId"
      WHERE o.status = 'OPEN' AND o."remainingTokens" > 0 AND o."modelClass" = ${q.modelClass} AND o.regions && ${q.regions}::text[]
        AND m.status = 'ACTIVE' AND NOT (o."operatorId" = ANY(${q.exclude}::uuid[]))
      ORDER BY o."premiumBp", o."createdAt", o.id FOR UPDATE OF o`;
  }

  async take(tx: Tx, id: string, tokens: bigint): Promise<void> {
    await tx.$executeRaw`
      UPDATE standby_offers SET "remainingTokens" = "remainingTokens" - ${tokens},
        status = CASE WHEN "remainingTokens" - ${tokens} = 0 THEN 'EXHAUSTED'::"StandbyOfferStatus" ELSE status END
      WHERE id = ${id}::uuid`;
  }
}
