import { Injectable } from '@nestjs/common';
import type { DeliveryObligation, Prisma } from '../generated/prisma/client.js';
import type { ObligationStatus } from '../generated/prisma/enums.js';
import type { Db, Tx } from '../platform/prisma/prisma.service.js';

/** An obligation as the window close settles it (read under its row lock). */
export interface ClosingObligation {
  id: string;
  sellerId: string;
  buyerId: string;
  tokens: bigint;
  deliveredTokens: bigint;
  notionalFen: bigint;
  releasedFen: bigint;
}

/** What the window close writes on one obligation. */
export interface ObligationClose {
  id: string;
  shortfall: bigint;
  unused: bigint;
  releaseFen: bigint;
  refundFen: bigint;
  penaltyFen: bigint;
}

/** Delivery obligations: created at expiry, listed to their parties, closed at the end of the window. */
@Injectable()
export class ObligationsRepository {
  countForSeries(db: Db, seriesId: string): Promise<number> {
    return db.deliveryObligation.count({ where: { seriesId } });
  }

  async createMany(db: Db, rows: Prisma.DeliveryObligationCreateManyInput[]): Promise<void> {
    await db.deliveryObligation.createMany({ data: rows });
  }

  forSeries(db: Db, seriesId: string): Promise<DeliveryObligation[]> {
    return db.deliveryObligation.findMany({ where: { seriesId }, orderBy: { seq: 'asc' } });
  }

  /** The series of an obligation the buyer holds (undefined when it is not theirs). */
  async seriesOfBuyers(db: Db, id: string | undefined, buyerId: string): Promise<string | undefined> {
    return (await db.deliveryObligation.findFirst({ where: { id, buyerId } }))?.seriesId;
  }

  /** One page in id order, from after `afterId`: limit + 1 rows (the extra one says another page exists). */
  page(
    db: Db,
    q: { memberId?: string; seriesId?: string; status?: ObligationStatus; afterId?: string; limit: number },
  ): Promise<DeliveryObligation[]> {
    return db.deliveryObligation.findMany({
      where: {
        ...(q.memberId ? { OR: [{ buyerId: q.memberId }, { sellerId: q.memberId }] } : {}),
        ...(q.seriesId ? { seriesId: q.seriesId } : {}),
        ...(q.status ? { status: q.status } : {}),
        ...(q.afterId ? { id: { gt: q.afterId } } : {}),
      },
      orderBy: { id: 'asc' },
      take: q.limit + 1,
    });
  }

  /** The series' obligations not closed yet, row-locked in sequence order. */
  lockUnclosed(tx: Tx, seriesId: string): Promise<ClosingObligation[]> {
    return tx.$queryRaw<ClosingObligation[]>`
      SELECT id, "sellerId", "buyerId", tokens, "deliveredTokens", "notionalFen", "releasedFen" FROM delivery_obligations
      WHERE "seriesId" = ${seriesId}::uuid AND status <> 'CLOSED' ORDER BY seq FOR UPDATE`;
  }

  /** Closes the obligations with their shortfall, unused tokens and money moved, in one statement. */
  async close(tx: Tx, closes: ObligationClose[]): Promise<void> {
    if (closes.length === 0) return;
    await tx.$executeRaw`
        UPDATE delivery_obligations o SET status = 'CLOSED', "closedAt" = now(), "reservedTokens" = 0,
          "shortfallTokens" = u.shortfall, "unusedTokens" = u.unused, "releasedFen" = o."releasedFen" + u.release, "refundedFen" = u.refund, "penaltyFen" = u.penalty
        FROM unnest(${closes.map((x) => x.id)}::uuid[], ${closes.map((x) => x.shortfall)}::bigint[], ${closes.map((x) => x.unused)}::bigint[],
                    ${closes.map((x) => x.releaseFen)}::bigint[], ${closes.map((x) => x.refundFen)}::bigint[], ${closes.map((x) => x.penaltyFen)}::bigint[])
          AS u(id, shortfall, unused, release, refund, penalty)
        WHERE o.id = u.id`;
  }
}
