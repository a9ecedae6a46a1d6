import { Injectable } from '@nestjs/common';
import { Prisma, type SettlementRun } from '../generated/prisma/client.js';
import type { Db, Tx } from '../platform/prisma/prisma.service.js';
import { dateColumn } from '../platform/time/business-date.js';

/** The initial margin a position holds at the run's new margin price, rounded up (see `netted`). */
const HELD = Prisma.sql`(p."marginQty" * s.held_per_contract + 9999) / 10000`;

/** One series of a DAILY run, with the prices its variation and initial margin move between. */
export interface SeriesLeg {
  seriesId: string;
  productId: string;
  priceFen: bigint;
  previousFen: bigint;
  multiplier: bigint;
  /** Margin price the positions' margin is held at now, and the one it moves to. */
  oldMarginFen: bigint;
  newMarginFen: bigint;
  initialMarginBp: number;
}

export interface NettedRow {
  memberId: string;
  vmFen: bigint;
  imFen: bigint;
  /** Whether the member holds margin in any of the run's series. */
  margined: boolean;
  /** Per product of the run's series: the initial margin held after the run (outrights at the new margin prices). */
  heldFen: Map<string, bigint>;
}

@Injectable()
export class DailySettlementRepository {
  /**
   * Variation margin and the change of initial margin of a range of members (after `fromMember`,
   * up to and including `toMember`), each summed over the run's series. Per member and series,
   *   VM = (netEnd × S_t − netStart × S_{t−1} − Σ_today signedQty × price) × multiplier
   * with netEnd = position now − Σ_later signedQty and netStart = netEnd − Σ_today signedQty,
   * which is linear in the position and in each trade leg:
   *   VM = [net_now × (S_t − S_{t−1}) + Σ_today q × (S_{t−1} − price) − Σ_later q × (S_t − S_{t−1})] × multiplier
   * so positions and trade legs are summed per member separately (parallel scans, no join of
   * trades to positions). ΔIM = im(marginQty, newMargin) − im(marginQty, oldMargin) with
   * im(q, P) = ⌈q × (P × multiplier × bp) / 10,000⌉ — `marginForContractsFen` in SQL. The outright
   * margin held after the run comes back per product too: the maintenance check starts from it.
   * Bigint arithmetic: an overflow raises an error (the run fails), it never wraps.
   */
  async netted(db: Db, legs: SeriesLeg[], businessDate: string, fromMember: string | null, toMember: string): Promise<NettedRow[]> {
    const ids = legs.map((l) => l.seriesId);
    const price = legs.map((l) => l.priceFen.toString());
    const prev = legs.map((l) => l.previousFen.toString());
    const mult = legs.map((l) => l.multiplier.toString());
    const products = [...new Set(legs.map((l) => l.productId))];
    const productIndex = legs.map((l) => products.indexOf(l.productId));
    // Positions are grouped by member alone, with one sum of the margin held per product of the
    // run (FILTER on the product's index): grouped by member and product — the product joined from
    // `series` for its statistics — Postgres would sometimes read the million positions by index, a
    // thousand probes of `positions_seriesId_idx` (0.5–0.8 s, one process), where one parallel hash
    // join over a sequential scan takes 0.3 s; the product taken from the parameters instead is
    // guessed at 200 per member and sorted on disk. A run holds few products.
    // (No series, no sums: Prisma.join refuses an empty list.)
    const heldByProduct =
      products.length === 0
        ? Prisma.empty
        : Prisma.join(products.map((_, k) => Prisma.sql`sum(${HELD}) FILTER (WHERE s.product = ${Prisma.raw(String(k))})`));
    const rows = await db.$queryRaw<
      { memberId: string; vmFen: bigint; wasFen: bigint | null; margined: boolean | null; held: (string | null)[] | null }[]
    >`
      WITH pos AS (
        -- Per series, the factors of a position's terms are computed once (below): a million rows
        -- multiply by one factor each, not by the price, multiplier and rate (0.05 s of 0.3).
        SELECT p."memberId" AS member,
               sum((p."longQty" - p."shortQty")::bigint * s.vm_per_contract) AS vm,
               sum((p."marginQty" * s.was_per_contract + 9999) / 10000) AS was,
               ARRAY[${heldByProduct}]::text[] AS held,
               bool_or(p."marginQty" > 0) AS margined
        FROM positions p
        JOIN unnest(${ids}::uuid[], ${legs.map((l) => ((l.priceFen - l.previousFen) * l.multiplier).toString())}::bigint[],
                    ${legs.map((l) => (l.newMarginFen * l.multiplier * BigInt(l.initialMarginBp)).toString())}::bigint[],
                    ${legs.map((l) => (l.oldMarginFen * l.multiplier * BigInt(l.initialMarginBp)).toString())}::bigint[],
                    ${productIndex}::int[])
          AS s(id, vm_per_contract, held_per_contract, was_per_contract, product)
          ON s.id = p."seriesId"
        WHERE (${fromMember}::uuid IS NULL OR p."memberId" > ${fromMember}::uuid) AND p."memberId" <= ${toMember}::uuid
        GROUP BY 1
      ),
      buys AS (
        SELECT t."buyerId" AS member,
               sum(CASE WHEN t."businessDate" = ${businessDate}::date THEN t.quantity * (s.prev - t."priceFen") ELSE -t.quantity * (s.price - s.prev) END * s.mult) AS vm
        FROM trades t JOIN unnest(${ids}::uuid[], ${price}::bigint[], ${prev}::bigint[], ${mult}::bigint[]) AS s(id, price, prev, mult) ON s.id = t."seriesId"
        WHERE t."businessDate" >= ${businessDate}::date AND (${fromMember}::uuid IS NULL OR t."buyerId" > ${fromMember}::uuid) AND t."buyerId" <= ${toMember}::uuid
        GROUP BY 1
      ),
      sells AS (
        SELECT t."sellerId" AS member,
               sum(CASE WHEN t."businessDate" = ${businessDate}::date THEN -t.quantity * (s.prev - t."priceFen") ELSE t.quantity * (s.price - s.prev) END * s.mult) AS vm
        FROM trades t JOIN unnest(${ids}::uuid[], ${price}::bigint[], ${prev}::bigint[], ${mult}::bigint[]) AS s(id, price, prev, mult) ON s.id = t."seriesId"
        WHERE t."businessDate" >= ${businessDate}::date AND (${fromMember}::uuid IS NULL OR t."sellerId" > ${fromMember}::uuid) AND t."sellerId" <= ${toMember}::uuid
        GROUP BY 1
      )
      -- One row per member: pos gives at most one, with its held margin per product.
      SELECT member AS "memberId", sum(vm)::bigint AS "vmFen", sum(was)::bigint AS "wasFen", bool_or(margined) AS margined, max(held) AS held
      FROM (SELECT member, vm, was, held, margined FROM pos
            UNION ALL SELECT member, vm, NULL, NULL, NULL FROM buys UNION ALL SELECT member, vm, NULL, NULL, NULL FROM sells) x
      GROUP BY member`;
    return rows.map((r) => {
      // A product's sum is NULL where the member holds no position in its series: no entry.
      const heldFen = new Map<string, bigint>();
      (r.held ?? []).forEach((fen, k) => fen !== null && heldFen.set(products[k], BigInt(fen)));
      const held = [...heldFen.values()].reduce((a, b) => a + b, 0n);
      return {
        memberId: r.memberId,
        vmFen: BigInt(r.vmFen),
        imFen: r.wasFen === null ? 0n : held - BigInt(r.wasFen),
        margined: r.margined === true,
        heldFen,
      };
    });
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

  async runSeriesIds(db: Db, runId: string): Promise<string[]> {
    return (await db.settlementRunSeries.findMany({ where: { runId }, select: { seriesId: true } })).map((r) => r.seriesId);
  }

  /** Per DAILY run, how many series it settles and the first one's code. */
  async coverage(db: Db, runIds: string[]): Promise<Map<string, { count: number; code: string }>> {
    if (runIds.length === 0) return new Map();
    const rows = await db.$queryRaw<{ runId: string; count: number; code: string }[]>`
      SELECT c."runId", count(*)::int AS count, min(s.code) AS code FROM settlement_run_series c JOIN series s ON s.id = c."seriesId"
      WHERE c."runId" = ANY(${runIds}::uuid[]) GROUP BY c."runId"`;
    return new Map(rows.map((r) => [r.runId, { count: r.count, code: r.code }]));
  }

  /** The codes of the series a DAILY run settles, in order. */
  async seriesCodes(db: Db, runId: string): Promise<string[]> {
    const rows = await db.$queryRaw<{ code: string }[]>`
      SELECT s.code FROM settlement_run_series c JOIN series s ON s.id = c."seriesId" WHERE c."runId" = ${runId}::uuid ORDER BY s.code`;
    return rows.map((r) => r.code);
  }

  /** The DAILY run that settles a series on a date, if one was started. */
  async coveringRun(db: Db, seriesId: string, businessDate: string): Promise<SettlementRun | null> {
    const row = await db.settlementRunSeries.findUnique({
      where: { businessDate_seriesId: { businessDate: dateColumn(businessDate), seriesId } },
    });
    return row ? db.settlementRun.findUnique({ where: { id: row.runId } }) : null;
  }

  /** Which of these series a DAILY run of the date already settles, by run. */
  async covered(db: Db, seriesIds: string[], businessDate: string): Promise<Map<string, string>> {
    const rows = await db.settlementRunSeries.findMany({ where: { businessDate: dateColumn(businessDate), seriesId: { in: seriesIds } } });
    return new Map(rows.map((r) => [r.seriesId, r.runId]));
  }

  /** Which of these series a COMPLETED DAILY run settled on the date. */
  async settledSeries(db: Db, seriesIds: string[], businessDate: string): Promise<Set<string>> {
    const rows = await db.$queryRaw<{ seriesId: string }[]>`
      SELECT c."seriesId" FROM settlement_run_series c JOIN settlement_runs r ON r.id = c."runId"
      WHERE c."businessDate" = ${businessDate}::date AND c."seriesId" = ANY(${seriesIds}::uuid[]) AND r.status = 'COMPLETED'`;
    return new Set(rows.map((r) => r.seriesId));
  }

  /** Records the run as the one settling these series on the date (unique per series and date). */
  async cover(tx: Tx, runId: string, seriesIds: string[], businessDate: string): Promise<void> {
    await tx.$executeRaw`
      INSERT INTO settlement_run_series ("runId", "seriesId", "businessDate") SELECT ${runId}::uuid, s, ${businessDate}::date FROM unnest(${seriesIds}::uuid[]) AS s`;
  }

  /** Moves the series' margin price to the run's price, unless a later date already did. */
  async repriceSeries(tx: Tx, legs: { seriesId: string; priceFen: bigint }[], businessDate: string): Promise<void> {
    await tx.$executeRaw`
      UPDATE series s SET "lastSettlementPriceFen" = x.p, "lastSettlementDate" = ${businessDate}::date
      FROM unnest(${legs.map((l) => l.seriesId)}::uuid[], ${legs.map((l) => l.priceFen.toString())}::bigint[]) AS x(id, p)
      WHERE s.id = x.id AND (s."lastSettlementDate" IS NULL OR s."lastSettlementDate" <= ${businessDate}::date)`;
  }
}
