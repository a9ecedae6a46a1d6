import { Injectable } from '@nestjs/common';
import type { Prisma, TokenIndex, TokenIndexFixing } from '../generated/prisma/client.js';
import type { Db, Tx } from '../platform/prisma/prisma.service.js';
import { dateColumn } from '../platform/time/business-date.js';
import type { DeliveryPrint, TradePrint } from './domain/fixing.js';

/** Where a page of fixings (by business date, then publication order) resumes. */
export interface FixingKey {
  businessDate: string;
  chainSeq: bigint;
}

export interface NewFixing {
  indexCode: string;
  businessDate: string;
  priceFen: bigint;
  method: string;
  volumeTokens: bigint;
  inputs: Prisma.InputJsonValue;
  correctsId: string | null;
  reason: string | null;
}

export interface ChainLink {
  chainSeq: bigint;
  prevHash: string | null;
  hash: string;
}

/**
 * token_indices and token_index_fixings, and what a fixing reads of the day's records (trades,
 * series, delivery obligations, usage records) — kept here rather than widening those domains'
 * repositories with the index's questions.
 */
@Injectable()
export class IndicesRepository {
  /** Every index (configured: a handful), by code. */
  allIndices(db: Db): Promise<TokenIndex[]> {
    return db.tokenIndex.findMany({ orderBy: { code: 'asc' } });
  }

  /** By code, `limit + 1` of them after `afterCode`. */
  indices(db: Db, afterCode: string | undefined, limit: number): Promise<TokenIndex[]> {
    return db.tokenIndex.findMany({
      where: afterCode ? { code: { gt: afterCode } } : undefined,
      orderBy: { code: 'asc' },
      take: limit + 1,
    });
  }

  index(db: Db, code: string): Promise<TokenIndex | null> {
    return db.tokenIndex.findUnique({ where: { code } });
  }

  /** Serialises publications of one index (its chain) until the caller's transaction ends. */
  async lockIndex(tx: Tx, code: string): Promise<void> {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`token-index:${code}`}))`;
  }

  /** Every series of the model class (whose matching the fixing waits for). */
  async classSeriesIds(db: Db, modelClass: string): Promise<string[]> {
    const rows = await db.series.findMany({ where: { product: { modelClass } }, select: { id: true } });
    return rows.map((r) => r.id);
  }

  /**
   * The business date's trades in every series of the model class, with their tokens; a trade is
   * in the front month when its series has the earliest delivery start among the series of the
   * class whose delivery has not ended at the day's end.
   */
  trades(db: Db, modelClass: string, businessDate: string, dayEnd: Date): Promise<TradePrint[]> {
    return db.$queryRaw<TradePrint[]>`
      WITH class_series AS (
        SELECT s.id, s."deliveryStart", s."deliveryEnd", p."contractSizeTokens" FROM series s JOIN products p ON p.id = s."productId"
        WHERE p."modelClass" = ${modelClass}
      ), front AS (SELECT min("deliveryStart") AS start FROM class_series WHERE "deliveryEnd" > ${dayEnd})
      SELECT t.id, t."priceFen", (t.quantity::bigint * cs."contractSizeTokens")::bigint AS tokens,
             (cs."deliveryStart" = f.start AND cs."deliveryEnd" > ${dayEnd}) IS TRUE AS "frontMonth"
      FROM trades t JOIN class_series cs ON cs.id = t."seriesId" CROSS JOIN front f
      WHERE t."businessDate" = ${businessDate}::date
      ORDER BY t.seq`;
  }

  /** Per obligation of the model class: the tokens credited to it within [from, to), at its price. */
  deliveries(db: Db, modelClass: string, from: Date, to: Date): Promise<DeliveryPrint[]> {
    return db.$queryRaw<DeliveryPrint[]>`
      SELECT o.id AS "obligationId", o."priceFen", sum(u."creditedTokens")::bigint AS tokens
      FROM usage_records u
      JOIN delivery_obligations o ON o.id = u."obligationId"
      JOIN series s ON s.id = o."seriesId" JOIN products p ON p.id = s."productId"
      WHERE p."modelClass" = ${modelClass} AND u."createdAt" >= ${from} AND u."createdAt" < ${to}
      GROUP BY o.id, o."priceFen" HAVING sum(u."creditedTokens") > 0
      ORDER BY o.id`;
  }

  /** The original (not a correction) fixing of an index and date, whatever its status. */
  original(db: Db, indexCode: string, businessDate: string): Promise<TokenIndexFixing | null> {
    return db.tokenIndexFixing.findFirst({ where: { indexCode, businessDate: dateColumn(businessDate), correctsId: null } });
  }

  /**
   * The effective fixing of the latest date before `businessDate` (of any date without one): of the
   * published fixings of that date, the one published last (a correction after the original).
   */
  effectiveBefore(db: Db, indexCode: string, businessDate?: string): Promise<TokenIndexFixing | null> {
    return db.tokenIndexFixing.findFirst({
      where: { indexCode, status: 'PUBLISHED', ...(businessDate ? { businessDate: { lt: dateColumn(businessDate) } } : {}) },
      orderBy: [{ businessDate: 'desc' }, { chainSeq: 'desc' }],
    });
  }

  /** The effective fixing of exactly this date, if one is published. */
  async effectiveOn(db: Db, indexCode: string, businessDate: string): Promise<TokenIndexFixing | null> {
    return db.tokenIndexFixing.findFirst({
      where: { indexCode, status: 'PUBLISHED', businessDate: dateColumn(businessDate) },
      orderBy: { chainSeq: 'desc' },
    });
  }

  /** The last published link of an index's chain. */
  async chainHead(db: Db, indexCode: string): Promise<ChainLink | null> {
    const head = await db.tokenIndexFixing.findFirst({
      where: { indexCode, chainSeq: { not: null } },
      orderBy: { chainSeq: 'desc' },
      select: { chainSeq: true, prevHash: true, hash: true },
    });
    return head && head.chainSeq !== null && head.hash !== null
      ? { chainSeq: head.chainSeq, prevHash: head.prevHash, hash: head.hash }
      : null;
  }

  /** An original fixing, published and chained at once. */
  insertPublished(db: Db, f: NewFixing, link: ChainLink, at: Date): Promise<TokenIndexFixing> {
    return db.tokenIndexFixing.create({
      data: {
        ...f,
        businessDate: dateColumn(f.businessDate),
        status: 'PUBLISHED',
        chainSeq: link.chainSeq,
        prevHash: link.prevHash,
        hash: link.hash,
        publishedAt: at,
      },
    });
  }

  /** A correction waiting for a second person: not in the chain. */
  insertProposed(db: Db, f: NewFixing, proposedBy: string): Promise<TokenIndexFixing> {
    return db.tokenIndexFixing.create({
      data: { ...f, businessDate: dateColumn(f.businessDate), status: 'PROPOSED', proposedBy },
    });
  }

  find(db: Db, id: string): Promise<TokenIndexFixing | null> {
    return db.tokenIndexFixing.findUnique({ where: { id } });
  }

  async lockFixing(tx: Tx, id: string): Promise<void> {
    await tx.$queryRaw`SELECT id FROM token_index_fixings WHERE id = ${id}::uuid FOR UPDATE`;
  }

  /** PROPOSED → PUBLISHED with its link (the trigger allows changing a PROPOSED row only). */
  publish(tx: Tx, id: string, approvedBy: string, link: ChainLink, at: Date): Promise<TokenIndexFixing> {
    return tx.tokenIndexFixing.update({
      where: { id },
      data: { status: 'PUBLISHED', approvedBy, chainSeq: link.chainSeq, prevHash: link.prevHash, hash: link.hash, publishedAt: at },
    });
  }

  reject(tx: Tx, id: string, decidedBy: string): Promise<TokenIndexFixing> {
    return tx.tokenIndexFixing.update({ where: { id }, data: { status: 'REJECTED', approvedBy: decidedBy } });
  }

  /** Published fixings of an index by business date then publication order, `limit` rows after `after`. */
  publishedPage(
    db: Db,
    indexCode: string,
    q: { from?: string; to?: string; after?: FixingKey; limit: number },
  ): Promise<TokenIndexFixing[]> {
    const range: Prisma.DateTimeFilter = {};
    if (q.from) range.gte = dateColumn(q.from);
    if (q.to) range.lte = dateColumn(q.to);
    const after: Prisma.TokenIndexFixingWhereInput = q.after
      ? {
          OR: [
            { businessDate: { gt: dateColumn(q.after.businessDate) } },
            { businessDate: dateColumn(q.after.businessDate), chainSeq: { gt: q.after.chainSeq } },
          ],
        }
      : {};
    return db.tokenIndexFixing.findMany({
      where: { AND: [{ indexCode, status: 'PUBLISHED', businessDate: range }, after] },
      orderBy: [{ businessDate: 'asc' }, { chainSeq: 'asc' }],
      take: q.limit,
    });
  }

  /** Published corrections naming these fixings, and the last publication of each of their dates. */
  async linksOf(db: Db, rows: TokenIndexFixing[]): Promise<{ correctedBy: Map<string, string[]>; effectiveSeq: Map<string, bigint> }> {
    const correctedBy = new Map<string, string[]>();
    const effectiveSeq = new Map<string, bigint>();
    if (rows.length === 0) return { correctedBy, effectiveSeq };
    const ids = rows.map((r) => r.id);
    const corrections = await db.tokenIndexFixing.findMany({
      where: { correctsId: { in: ids }, status: 'PUBLISHED' },
      orderBy: { chainSeq: 'asc' },
      select: { id: true, correctsId: true },
    });
    for (const c of corrections) correctedBy.set(c.correctsId!, [...(correctedBy.get(c.correctsId!) ?? []), c.id]);
    const dates = [...new Set(rows.map((r) => r.businessDate.getTime()))].map((t) => new Date(t));
    const last = await db.tokenIndexFixing.groupBy({
      by: ['indexCode', 'businessDate'],
      where: { indexCode: { in: [...new Set(rows.map((r) => r.indexCode))] }, businessDate: { in: dates }, status: 'PUBLISHED' },
      _max: { chainSeq: true },
    });
    for (const l of last) if (l._max.chainSeq !== null) effectiveSeq.set(`${l.indexCode}|${l.businessDate.getTime()}`, l._max.chainSeq);
    return { correctedBy, effectiveSeq };
  }
}
