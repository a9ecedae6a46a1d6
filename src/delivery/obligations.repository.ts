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

  // --- Physical buy-in (SPEC §6.4): undelivered tokens move to standby operators. ---

  /** An OPEN obligation row-locked, with its product's model class and regions. */
  async lockForBuyIn(tx: Tx, id: string): Promise<(DeliveryObligation & { modelClass: string; regions: string[] }) | null> {
    const [row] = await tx.$queryRaw<(DeliveryObligation & { modelClass: string; regions: string[] })[]>`
      SELECT o.*, p."modelClass", p.regions FROM delivery_obligations o
      JOIN series s ON s.id = o."seriesId" JOIN products p ON p.id = s."productId"
      WHERE o.id = ${id}::uuid FOR UPDATE OF o`;
    return row ?? null;
  }

  /** The OPEN obligations a seller still has tokens to deliver on, by id. */
  async openOfSeller(db: Db, sellerId: string): Promise<string[]> {
    const rows = await db.$queryRaw<{ id: string }[]>`
      SELECT id FROM delivery_obligations WHERE "sellerId" = ${sellerId}::uuid AND status = 'OPEN' AND tokens > "deliveredTokens" ORDER BY id`;
    return rows.map((r) => r.id);
  }

  /** Tokens reserved by the obligation's jobs in the hands of a node (DISPATCHED or LEASED): they stay. */
  async inFlightReserved(db: Db, obligationId: string): Promise<bigint> {
    const [row] = await db.$queryRaw<{ n: bigint }[]>`
      SELECT COALESCE(sum("reservedTokens"), 0)::bigint AS n FROM delivery_jobs
      WHERE "obligationId" = ${obligationId}::uuid AND status IN ('DISPATCHED', 'LEASED')`;
    return row.n;
  }

  async nextSeq(tx: Tx, seriesId: string): Promise<number> {
    const [row] = await tx.$queryRaw<
      { n: number }[]
    >`SELECT COALESCE(max(seq), 0)::int + 1 AS n FROM delivery_obligations WHERE "seriesId" = ${seriesId}::uuid`;
    return row.n;
  }

  /** The original keeps only what it delivered (or has in flight): its tokens, notional and reservations shrink. */
  async shrinkForBuyIn(tx: Tx, id: string, q: { movedTokens: bigint; movedFen: bigint; movedReserved: bigint }): Promise<void> {
    await tx.$executeRaw`
      UPDATE delivery_obligations SET tokens = tokens - ${q.movedTokens}, "notionalFen" = "notionalFen" - ${q.movedFen},
        "reservedTokens" = "reservedTokens" - ${q.movedReserved}, "boughtInTokens" = "boughtInTokens" + ${q.movedTokens}
      WHERE id = ${id}::uuid`;
  }

  /** QUEUED jobs of an obligation, oldest first: a buy-in re-points them to the substitute. */
  queuedJobs(tx: Tx, obligationId: string): Promise<{ id: string; attempt: number; reservedTokens: bigint }[]> {
    return tx.$queryRaw`
      SELECT id, attempt, "reservedTokens" FROM delivery_jobs WHERE "obligationId" = ${obligationId}::uuid AND status = 'QUEUED'
      ORDER BY "createdAt", id FOR UPDATE`;
  }

  /** Jobs move to a substitute obligation (and its seller's nodes), their reservations with them. */
  async repointJobs(tx: Tx, moves: { jobId: string; obligationId: string; sellerId: string }[]): Promise<void> {
    if (moves.length === 0) return;
    await tx.$executeRaw`
      UPDATE delivery_jobs j SET "obligationId" = m.obligation, "sellerId" = m.seller, "triedNodes" = '{}', "updatedAt" = now()
      FROM unnest(${moves.map((m) => m.jobId)}::uuid[], ${moves.map((m) => m.obligationId)}::uuid[], ${moves.map((m) => m.sellerId)}::uuid[]) AS m(id, obligation, seller)
      WHERE j.id = m.id AND j.status = 'QUEUED'`;
  }

  /** Buy-in obligations of an original (its substitutes). */
  substitutes(db: Db, id: string): Promise<DeliveryObligation[]> {
    return db.deliveryObligation.findMany({ where: { replacesObligationId: id }, orderBy: { seq: 'asc' } });
  }
}
