import { Injectable } from '@nestjs/common';
import type { SettlementRun } from '../generated/prisma/client.js';
import type { SeriesWithProduct } from '../markets/markets.repository.js';
import type { Db, Tx } from '../platform/prisma/prisma.service.js';
import { dateColumn } from '../platform/time/business-date.js';

/** One series of a DAILY run, with the prices its variation and initial margin move between. */
export interface SeriesLeg {
  seriesId: string;
  priceFen: bigint;
  previousFen: bigint;
  multiplier: bigint;
  /** Margin price the positions' margin is held at now, and the one it moves to. */
  oldMarginFen: bigint;
  newMarginFen: bigint;
  initialMarginBp: number;
}

export interface NettedRow {
  /** Set on a member's row (its total over the run's series) … */
  memberId: string | null;
  /** … or on a series' row (its total over the chunk's members). */
  seriesId: string | null;
  vmFen: bigint;
  imFen: bigint;
}

@Injectable()
export class DailySettlementRepository {
  /**
   * Variation margin and the change of initial margin of a range of members (after `fromMember`,
   * up to and including `toMember`), summed per member over the run's series and per series
   * over the members, in one pass over positions and the trades from the business date on:
   *   netEnd   = position now − Σ signed trades after the date
   *   netStart = netEnd − Σ signed trades on the date
   *   VM       = (netEnd × S_t − netStart × S_{t−1} − Σ_today signedQty × price) × multiplier
   *   ΔIM      = im(marginQty, newMargin) − im(marginQty, oldMargin),
   *   im(q, P) = ⌈q × P × multiplier × bp / 10,000⌉ — `marginForContractsFen` in SQL.
   * Bigint arithmetic: an overflow raises an error (the run fails), it never wraps.
   */
  netted(db: Db, legs: SeriesLeg[], businessDate: string, fromMember: string | null, toMember: string): Promise<NettedRow[]> {
    const ids = legs.map((l) => l.seriesId);
    return db.$queryRaw<NettedRow[]>`
      WITH s AS (
        SELECT * FROM unnest(${ids}::uuid[], ${legs.map((l) => l.priceFen.toString())}::bigint[], ${legs.map((l) => l.previousFen.toString())}::bigint[],
                             ${legs.map((l) => l.multiplier.toString())}::bigint[], ${legs.map((l) => l.oldMarginFen.toString())}::bigint[],
                             ${legs.map((l) => l.newMarginFen.toString())}::bigint[], ${legs.map((l) => l.initialMarginBp)}::bigint[])
          AS s(id, price, prev, mult, old_margin, new_margin, bp)
      ),
      legs AS (
        SELECT "buyerId" AS member, "seriesId" AS series, quantity::bigint AS q, "priceFen" AS p, "businessDate" AS d FROM trades
          WHERE "seriesId" = ANY(${ids}::uuid[]) AND "businessDate" >= ${businessDate}::date
            AND (${fromMember}::uuid IS NULL OR "buyerId" > ${fromMember}::uuid) AND "buyerId" <= ${toMember}::uuid
        UNION ALL
        SELECT "sellerId", "seriesId", -quantity::bigint, "priceFen", "businessDate" FROM trades
          WHERE "seriesId" = ANY(${ids}::uuid[]) AND "businessDate" >= ${businessDate}::date
            AND (${fromMember}::uuid IS NULL OR "sellerId" > ${fromMember}::uuid) AND "sellerId" <= ${toMember}::uuid
      ),
      moves AS (
        SELECT member, series,
               COALESCE(sum(q) FILTER (WHERE d = ${businessDate}::date), 0) AS today_q,
               COALESCE(sum(q * p) FILTER (WHERE d = ${businessDate}::date), 0) AS today_cost,
               COALESCE(sum(q) FILTER (WHERE d > ${businessDate}::date), 0) AS later_q
        FROM legs GROUP BY member, series
      ),
      per AS (
        SELECT p."memberId" AS member, p."seriesId" AS series, s.price, s.prev, s.mult, s.old_margin, s.new_margin, s.bp,
               (p."longQty" - p."shortQty")::bigint - COALESCE(m.later_q, 0) AS net_end,
               COALESCE(m.today_q, 0) AS today_q, COALESCE(m.today_cost, 0) AS today_cost, p."marginQty"::bigint AS mq
        FROM positions p JOIN s ON s.id = p."seriesId"
        LEFT JOIN moves m ON m.member = p."memberId" AND m.series = p."seriesId"
        WHERE (${fromMember}::uuid IS NULL OR p."memberId" > ${fromMember}::uuid) AND p."memberId" <= ${toMember}::uuid
      ),
      fen AS (
        SELECT member, series,
               (net_end * price - (net_end - today_q) * prev - today_cost) * mult AS vm,
               (mq * new_margin * mult * bp + 9999) / 10000 - (mq * old_margin * mult * bp + 9999) / 10000 AS im
        FROM per
      )
      SELECT member AS "memberId", series AS "seriesId", sum(vm)::bigint AS "vmFen", sum(im)::bigint AS "imFen"
      FROM fen GROUP BY GROUPING SETS ((member), (series))`;
  }

  /** The next range of members, by id: its last id, and how many it holds. */
  async memberRange(db: Db, afterMember: string | null, size: number): Promise<{ last: string; count: number } | null> {
    const [row] = await db.$queryRaw<{ last: string | null; count: bigint }[]>`
      WITH r AS (SELECT id FROM members WHERE ${afterMember}::uuid IS NULL OR id > ${afterMember}::uuid ORDER BY id LIMIT ${size})
      SELECT (SELECT id FROM r ORDER BY id DESC LIMIT 1) AS last, (SELECT count(*) FROM r)::bigint AS count`;
    return row.last === null ? null : { last: row.last, count: Number(row.count) };
  }

  async memberCount(db: Db): Promise<number> {
    const [row] = await db.$queryRaw<{ count: bigint }[]>`SELECT count(*)::bigint AS count FROM members`;
    return Number(row.count);
  }

  /** The run's series with their products, in id order. */
  async runSeries(db: Db, runId: string): Promise<SeriesWithProduct[]> {
    const rows = await db.settlementRunSeries.findMany({ where: { runId }, select: { seriesId: true } });
    return db.series.findMany({ where: { id: { in: rows.map((r) => r.seriesId) } }, include: { product: true }, orderBy: { id: 'asc' } });
  }

  /** The DAILY run that settles a series on a date, if one was started. */
  async coveringRun(db: Db, seriesId: string, businessDate: string): Promise<SettlementRun | null> {
    const row = await db.settlementRunSeries.findUnique({ where: { businessDate_seriesId: { businessDate: dateColumn(businessDate), seriesId } } });
    return row ? db.settlementRun.findUnique({ where: { id: row.runId } }) : null;
  }

  /** Which of these series a DAILY run of the date already settles, by run. */
  async covered(db: Db, seriesIds: string[], businessDate: string): Promise<Map<string, string>> {
    const rows = await db.settlementRunSeries.findMany({ where: { businessDate: dateColumn(businessDate), seriesId: { in: seriesIds } } });
    return new Map(rows.map((r) => [r.seriesId, r.runId]));
  }

  /** Moves the series' margin price to the run's price, unless a later date already did. */
  async repriceSeries(tx: Tx, legs: { seriesId: string; priceFen: bigint }[], businessDate: string): Promise<void> {
    await tx.$executeRaw`
      UPDATE series s SET "lastSettlementPriceFen" = x.p, "lastSettlementDate" = ${businessDate}::date
      FROM unnest(${legs.map((l) => l.seriesId)}::uuid[], ${legs.map((l) => l.priceFen.toString())}::bigint[]) AS x(id, p)
      WHERE s.id = x.id AND (s."lastSettlementDate" IS NULL OR s."lastSettlementDate" <= ${businessDate}::date)`;
  }

  /** Every series' matching lock, in one order, so a run never deadlocks with another. */
  async lockSeries(tx: Tx, seriesIds: string[]): Promise<void> {
    await tx.$queryRaw`SELECT count(pg_advisory_xact_lock(hashtext('series:' || id))) FROM (SELECT unnest(${[...seriesIds].sort()}::uuid[]) AS id ORDER BY 1) ids`;
  }
}
