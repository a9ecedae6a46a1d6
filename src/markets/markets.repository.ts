import { dateColumn } from '../platform/time/business-date.js';
import { Injectable } from '@nestjs/common';
import type { Order, Product, Series, Trade } from '../generated/prisma/client.js';
import type { Db, RawSql, Tx } from '../platform/prisma/prisma.service.js';
import type { Exposure } from './domain/contract-math.js';

export type SeriesWithProduct = Series & { product: Product };

export interface MemberExposure extends Exposure {
  /** Worst-case contracts whose margin is held (valued at the series' margin price). */
  marginQty: number;
  /**
   * The series' margin price as committed when read. Read under the series lock: the daily run
   * moves it together with everyone's margin, so a price read earlier could be stale.
   */
  marginPriceFen: bigint;
  longQty: number;
  shortQty: number;
}

export interface NewTrade {
  id: string;
  seriesId: string;
  priceFen: bigint;
  quantity: number;
  buyerId: string;
  sellerId: string;
  buyOrderId: string | null;
  sellOrderId: string | null;
  block: boolean;
  businessDate: string;
  /** From the service clock, so settlement's end-of-day VWAP window sees the same time. */
  createdAt: Date;
}

@Injectable()
export class MarketsRepository {
  seriesByCode(db: Db, code: string): Promise<SeriesWithProduct | null> {
    return db.series.findUnique({ where: { code }, include: { product: true } });
  }

  seriesById(db: Db, id: string): Promise<SeriesWithProduct | null> {
    return db.series.findUnique({ where: { id }, include: { product: true } });
  }

  /** Many series with their products, in id order. */
  seriesByIds(db: Db, ids: string[]): Promise<SeriesWithProduct[]> {
    return db.series.findMany({ where: { id: { in: ids } }, include: { product: true }, orderBy: { id: 'asc' } });
  }

  /** Matching of one series is strictly serialised, across every process, by this lock. */
  async lockSeries(tx: RawSql, seriesId: string): Promise<void> {
    await this.lockSeriesMany(tx, [seriesId]);
  }

  /** The same locks for many series (a daily run), taken in one order so two takers never deadlock. */
  async lockSeriesMany(tx: RawSql, seriesIds: string[]): Promise<void> {
    const keys = [...seriesIds].sort().map((id) => `series:${id}`);
    await tx.$queryRaw`SELECT count(pg_advisory_xact_lock(hashtext(k))) FROM (SELECT unnest(${keys}::text[]) AS k ORDER BY 1) ks`;
  }

  async exposure(db: Db, memberId: string, seriesId: string): Promise<MemberExposure> {
    const [e] = await this.exposures(db, seriesId, [memberId]);
    return e;
  }

  /** Members' exposure in one series: position, margin held, resting quantity per side. */
  async exposures(db: Db, seriesId: string, memberIds: string[]): Promise<(MemberExposure & { memberId: string })[]> {
    const rows = await db.$queryRaw<
      {
        memberId: string;
        longQty: number;
        shortQty: number;
        marginQty: number;
        restingBuy: bigint;
        restingSell: bigint;
        marginPriceFen: bigint;
      }[]
    >`
      WITH m AS (SELECT unnest(${memberIds}::uuid[]) AS id)
      SELECT m.id AS "memberId", COALESCE(p."longQty", 0) AS "longQty", COALESCE(p."shortQty", 0) AS "shortQty",
             COALESCE(p."marginQty", 0) AS "marginQty",
             (SELECT COALESCE("lastSettlementPriceFen", "referencePriceFen") FROM series WHERE id = ${seriesId}::uuid) AS "marginPriceFen", COALESCE(r."buyQty", 0)::bigint AS "restingBuy", COALESCE(r."sellQty", 0)::bigint AS "restingSell"
      FROM m LEFT JOIN positions p ON p."memberId" = m.id AND p."seriesId" = ${seriesId}::uuid
      -- Live order quantities as the triggers on orders keep them (resting_quantities).
      LEFT JOIN resting_quantities r ON r."memberId" = m.id AND r."seriesId" = ${seriesId}::uuid`;
    return rows.map((r) => ({
      memberId: r.memberId,
      longQty: r.longQty,
      shortQty: r.shortQty,
      net: r.longQty - r.shortQty,
      marginQty: r.marginQty,
      marginPriceFen: r.marginPriceFen,
      restingBuyQty: Number(r.restingBuy),
      restingSellQty: Number(r.restingSell),
    }));
  }

  async setMarginQtyMany(tx: Tx, seriesId: string, rows: { memberId: string; marginQty: number }[]): Promise<void> {
    if (rows.length === 0) return;
    await tx.$executeRaw`
      INSERT INTO positions ("memberId", "seriesId", "marginQty", "updatedAt")
      SELECT m, ${seriesId}::uuid, q, now() FROM unnest(${rows.map((r) => r.memberId)}::uuid[], ${rows.map((r) => r.marginQty)}::int[]) AS x(m, q)
      ON CONFLICT ("memberId", "seriesId") DO UPDATE SET "marginQty" = EXCLUDED."marginQty", "updatedAt" = now()`;
  }

  async cancelOrders(tx: Tx, ids: string[], reason: string): Promise<void> {
    if (ids.length === 0) return;
    await tx.order.updateMany({
      where: { id: { in: ids }, status: { in: ['OPEN', 'PARTIALLY_FILLED'] } },
      data: { status: 'CANCELLED', cancelReason: reason },
    });
  }

  async insertTrades(tx: Tx, trades: NewTrade[]): Promise<void> {
    if (trades.length === 0) return;
    await tx.trade.createMany({ data: trades.map((t) => ({ ...t, businessDate: dateColumn(t.businessDate) })) });
  }

  /**
   * Adds trades to the members' gross long/short in one statement; records when a member first
   * held a long (delivery allocation order).
   */
  async addTradesToPositions(tx: Tx, seriesId: string, trades: { buyerId: string; sellerId: string; quantity: number }[]): Promise<void> {
    if (trades.length === 0) return;
    const members = trades.flatMap((t) => [t.buyerId, t.sellerId]);
    const longs = trades.flatMap((t) => [t.quantity, 0]);
    const shorts = trades.flatMap((t) => [0, t.quantity]);
    await tx.$executeRaw`
      INSERT INTO positions ("memberId", "seriesId", "longQty", "shortQty", "firstLongAt", "updatedAt")
      SELECT m, ${seriesId}::uuid, sum(l)::int, sum(s)::int, CASE WHEN sum(l) > 0 THEN now() END, now()
      FROM unnest(${members}::uuid[], ${longs}::int[], ${shorts}::int[]) AS d(m, l, s) GROUP BY m
      ON CONFLICT ("memberId", "seriesId") DO UPDATE SET
        "longQty" = positions."longQty" + EXCLUDED."longQty",
        "shortQty" = positions."shortQty" + EXCLUDED."shortQty",
        "firstLongAt" = COALESCE(positions."firstLongAt", EXCLUDED."firstLongAt"),
        "updatedAt" = now()`;
  }

  /** Codes of many series at once (list views that show the code of each row's series). */
  async seriesCodes(db: Db, ids: string[]): Promise<Map<string, string>> {
    const rows = await db.series.findMany({ where: { id: { in: [...new Set(ids)] } }, select: { id: true, code: true } });
    return new Map(rows.map((r) => [r.id, r.code]));
  }

  /** The id of a series by code, or null. */
  async seriesIdByCode(db: Db, code: string): Promise<string | null> {
    return (await db.series.findUnique({ where: { code }, select: { id: true } }))?.id ?? null;
  }

  /** A member's resting orders in every series (a default cancels them all). */
  restingOrdersOf(tx: Tx, memberId: string): Promise<Order[]> {
    return tx.order.findMany({ where: { memberId, status: { in: ['OPEN', 'PARTIALLY_FILLED'] } }, orderBy: { id: 'asc' } });
  }

  restingOrders(tx: Tx, seriesId: string): Promise<Order[]> {
    return tx.order.findMany({ where: { seriesId, status: { in: ['OPEN', 'PARTIALLY_FILLED'] } } });
  }

  findOrder(db: Db, id: string): Promise<Order | null> {
    return db.order.findUnique({ where: { id } });
  }

  tradesOfOrder(db: Db, orderId: string): Promise<Trade[]> {
    return db.trade.findMany({ where: { OR: [{ buyOrderId: orderId }, { sellOrderId: orderId }] }, orderBy: { seq: 'asc' } });
  }
}
