import { Injectable } from '@nestjs/common';
import type { MarginCall } from '../generated/prisma/client.js';
import { TOKENS_PER_PRICE_UNIT } from '../markets/domain/contract-math.js';
import type { Db } from '../platform/prisma/prisma.service.js';
import { isoDate } from '../platform/time/business-date.js';
import type { LegSums } from '../risk/domain/portfolio-margin.js';

/** How positions are marked: at the last trade price (intraday) or at the margin price (after a daily run). */
export type MarkAt = 'last' | 'margin';

/** A live series as marking values it: the mark, the margin price P&L runs from, and what the add-on needs. */
export interface SeriesMark {
  id: string;
  productId: string;
  priceFen: bigint;
  baseFen: bigint;
  mult: bigint;
  oi: bigint;
}

/** One member's legs in one product, summed as the portfolio math takes them. */
export interface RequirementRow {
  memberId: string;
  productId: string;
  sums: LegSums;
}

/** Cash, margin held and variation margin not yet settled, per member. */
export interface MemberFunds {
  cashFen: bigint;
  marginFen: bigint;
  /** P&L since the series' last settlement at the mark prices: net × (mark − base) + Σ signed q × (base − price). */
  unsettledFen: bigint;
}

/**
 * The reads of marking (intraday re-mark, daily run and its portfolio adjustments, statements,
 * a deposit's check): the marks of the live series, and the requirement sums and funds of a range
 * of members, or of listed ones.
 */
@Injectable()
export class RiskMarksRepository {
  /**
   * Each live series' mark (`at`): its last trade since its last settlement (an older one is no
   * mark: that price is newer), else its margin price — or the margin price — with the margin
   * price, multiplier and open interest (for the add-on). Of listed members: the series they hold.
   * Read once per marking, so a member's requirement and its P&L are valued at the same prices.
   */
  async marks(db: Db, at: MarkAt, members: string[] | null): Promise<SeriesMark[]> {
    const rows = await db.$queryRaw<{ id: string; productId: string; price: bigint; base: bigint; mult: bigint; oi: bigint }[]>`
      WITH ser AS (
        SELECT s.id, s."productId", COALESCE(s."lastSettlementPriceFen", s."referencePriceFen") AS margin, s."lastSettlementDate" AS settled,
               pr."contractSizeTokens" / ${TOKENS_PER_PRICE_UNIT}::bigint AS mult, pr."concentrationAddOnBp" AS add_on
        FROM series s JOIN products pr ON pr.id = s."productId"
        WHERE s.status IN ('LISTED', 'TRADING', 'EXPIRED')
          -- Listed members: the series they hold, read once (an init plan, see exposures).
          AND (${members}::uuid[] IS NULL
               OR s.id = ANY(ARRAY(SELECT DISTINCT "seriesId" FROM positions q WHERE q."memberId" = ANY(${members}::uuid[]))))
      ), oi AS (
        SELECT q."seriesId", sum(q."longQty")::bigint AS oi FROM positions q JOIN ser ON ser.id = q."seriesId" AND ser.add_on > 0
        GROUP BY q."seriesId"
      )
      SELECT ser.id, ser."productId", ser.margin AS base, ser.mult, COALESCE(oi.oi, 0)::bigint AS oi,
             CASE WHEN ${at}::text = 'last'
                  THEN COALESCE((SELECT t."priceFen" FROM trades t
                                 WHERE t."seriesId" = ser.id AND (ser.settled IS NULL OR t."businessDate" > ser.settled)
                                 ORDER BY t.seq DESC LIMIT 1), ser.margin)
                  ELSE ser.margin END AS price
      FROM ser LEFT JOIN oi ON oi."seriesId" = ser.id`;
    return rows.map((r) => ({
      id: r.id,
      productId: r.productId,
      priceFen: BigInt(r.price),
      baseFen: BigInt(r.base),
      mult: BigInt(r.mult),
      oi: BigInt(r.oi),
    }));
  }

  /**
   * Per member (of a range, or listed) and product: the sums of its margined legs (positions with
   * resting orders, `LegSums`) at `marks`, computed where the positions are. Each term is the
   * per-leg rule of `legSums` (portfolio-margin.ts), written in SQL; requirement-sums.spec checks
   * the two agree on random books. Reading the legs into node instead cost ~3.5 s of a re-mark at
   * 1M positions (1.7 s in Postgres, the rest parsing, GC and the per-leg math on the event loop).
   * The marks come as parameters (a thousand rows): as a sub-query of the aggregate they were
   * evaluated per position, and a CTE there would keep Postgres from scanning in parallel.
   */
  async requirementSums(
    db: Db,
    range: { from: string | null; to: string } | { members: string[] },
    marks: SeriesMark[],
  ): Promise<RequirementRow[]> {
    const from = 'members' in range ? null : range.from;
    const to = 'members' in range ? null : range.to;
    const members = 'members' in range ? range.members : null;
    if (marks.length === 0) return [];
    const rows = await db.$queryRaw<
      {
        memberId: string;
        productId: string;
        legs: number;
        outright: string;
        conc: string;
        maxPrice: string;
        up: string;
        down: string;
        shortUp: string;
        gainUp: string;
        longDown: string;
        gainDown: string;
      }[]
    >`
      WITH leg AS (
        SELECT p."memberId" AS member, s."productId" AS product, m.price, m.price * (pr."contractSizeTokens" / ${TOKENS_PER_PRICE_UNIT}::bigint) * pr."initialMarginBp" AS unit,
               pr."contractSizeTokens" / ${TOKENS_PER_PRICE_UNIT}::bigint AS mult, pr."concentrationAddOnBp"::bigint AS add_on,
               pr."concentrationThresholdBp"::bigint AS thr, m.oi,
               (p."longQty" - p."shortQty")::bigint AS net, COALESCE(r."buyQty", 0)::bigint AS buy, COALESCE(r."sellQty", 0)::bigint AS sell
        FROM positions p
        JOIN unnest(${marks.map((m) => m.id)}::uuid[], ${marks.map((m) => String(m.priceFen))}::bigint[], ${marks.map((m) => String(m.oi))}::bigint[]) AS m(id, price, oi)
          ON m.id = p."seriesId"
        -- Product from the tables, not the parameters: their statistics keep the grouping a hash
        -- aggregate (see DailySettlementRepository.netted).
        JOIN series s ON s.id = m.id JOIN products pr ON pr.id = s."productId"
        LEFT JOIN resting_quantities r ON r."memberId" = p."memberId" AND r."seriesId" = p."seriesId"
        WHERE p."marginQty" > 0
          AND (${members}::uuid[] IS NULL OR p."memberId" = ANY(${members}::uuid[]))
          AND (${members}::uuid[] IS NOT NULL OR ((${from}::uuid IS NULL OR p."memberId" > ${from}::uuid) AND p."memberId" <= ${to}::uuid))
      ), w AS (
        SELECT *, greatest(0, net + buy, sell - net) AS wc, sell - net AS u, net + buy AS d FROM leg
      )
      SELECT member AS "memberId", product AS "productId", count(*)::int AS legs,
             sum((wc * unit + 9999) / 10000)::text AS outright,
             COALESCE(sum(greatest(0, wc - oi * thr / 10000) * price * mult * add_on) FILTER (WHERE add_on > 0 AND wc > 0), 0)::text AS conc,
             COALESCE(max(price) FILTER (WHERE wc > 0), 0)::text AS "maxPrice",
             sum(u * unit)::text AS up, sum(d * unit)::text AS down,
             sum(greatest(u, 0))::text AS "shortUp", sum(greatest(-u, 0))::text AS "gainUp",
             sum(greatest(d, 0))::text AS "longDown", sum(greatest(-d, 0))::text AS "gainDown"
      FROM w GROUP BY member, product`;
    return rows.map((r) => ({
      memberId: r.memberId,
      productId: r.productId,
      sums: {
        legs: r.legs,
        outrightFen: BigInt(r.outright),
        concentrationNum: BigInt(r.conc),
        maxPriceFen: BigInt(r.maxPrice),
        up: BigInt(r.up),
        down: BigInt(r.down),
        shortUp: BigInt(r.shortUp),
        gainUp: BigInt(r.gainUp),
        longDown: BigInt(r.longDown),
        gainDown: BigInt(r.gainDown),
      },
    }));
  }

  /**
   * Cash, margin and the P&L not yet settled of these members at `marks`: positions at mark −
   * margin price, and the trades since each series' last settlement date at margin price − trade
   * price, over every live series (realised P&L in a series the member no longer holds counts too).
   */
  async funds(db: Db, memberIds: string[], marks: SeriesMark[]): Promise<Map<string, MemberFunds>> {
    // The oldest last settlement of the live series bounds the trades to read, as a value the
    // planner sees: through the business-date index that is the trades since then (none after a
    // daily run), where the members' trade history is every trade they made (0.9 s at 1M positions).
    const [bound] = await db.$queryRaw<{ since: Date | null; open: boolean | null }[]>`
      SELECT min("lastSettlementDate") AS since, bool_or("lastSettlementDate" IS NULL) AS open FROM series WHERE status IN ('LISTED', 'TRADING', 'EXPIRED')`;
    const since = bound.open === false && bound.since !== null ? isoDate(bound.since) : null;
    // Only series whose mark moved from the margin price have position P&L: at the margin prices
    // (after a daily run) none, and no position is read.
    const moved = marks.filter((m) => m.priceFen !== m.baseFen);
    const rows = await db.$queryRaw<{ memberId: string; cash: bigint | null; margin: bigint | null; pnl: bigint | null }[]>`
      WITH m AS (
        SELECT s.id, COALESCE(s."lastSettlementPriceFen", s."referencePriceFen") AS base, s."lastSettlementDate" AS settled,
               pr."contractSizeTokens" / ${TOKENS_PER_PRICE_UNIT}::bigint AS mult
        FROM series s JOIN products pr ON pr.id = s."productId" WHERE s.status IN ('LISTED', 'TRADING', 'EXPIRED')
      ),
      pnl AS (
        SELECT p."memberId" AS member, (p."longQty" - p."shortQty")::bigint * x.move AS v
        FROM positions p JOIN unnest(${moved.map((x) => x.id)}::uuid[], ${moved.map((x) => String((x.priceFen - x.baseFen) * x.mult))}::bigint[]) AS x(id, move)
          ON x.id = p."seriesId"
        WHERE p."memberId" = ANY(${memberIds}::uuid[])
        UNION ALL
        SELECT t."buyerId", t.quantity::bigint * (m.base - t."priceFen") * m.mult FROM trades t JOIN m ON m.id = t."seriesId"
        WHERE t."buyerId" = ANY(${memberIds}::uuid[]) AND (m.settled IS NULL OR t."businessDate" > m.settled)
          AND (${since}::date IS NULL OR t."businessDate" > ${since}::date)
        UNION ALL
        SELECT t."sellerId", -t.quantity::bigint * (m.base - t."priceFen") * m.mult FROM trades t JOIN m ON m.id = t."seriesId"
        WHERE t."sellerId" = ANY(${memberIds}::uuid[]) AND (m.settled IS NULL OR t."businessDate" > m.settled)
          AND (${since}::date IS NULL OR t."businessDate" > ${since}::date)
      ),
      -- Summed once per member and joined: a sub-query per member over pnl re-ran the whole union
      -- for each (9 s of a 20 s daily run at 1,000 members and 1M positions).
      sums AS (SELECT member, sum(v)::bigint AS v FROM pnl GROUP BY member)
      SELECT x.member AS "memberId",
             (SELECT a."balanceFen" FROM ledger_accounts a WHERE a."memberId" = x.member AND a.type = 'CASH') AS cash,
             (SELECT a."balanceFen" FROM ledger_accounts a WHERE a."memberId" = x.member AND a.type = 'MARGIN') AS margin,
             s.v AS pnl
      FROM unnest(${memberIds}::uuid[]) AS x(member) LEFT JOIN sums s ON s.member = x.member`;
    return new Map(
      rows.map((r) => [r.memberId, { cashFen: BigInt(r.cash ?? 0), marginFen: BigInt(r.margin ?? 0), unsettledFen: BigInt(r.pnl ?? 0) }]),
    );
  }

  /**
   * Of these members, those holding margin in a live series outside `seriesIds` (a DAILY run
   * over some series only): their requirement is not all in what the run re-priced.
   */
  async marginedOutside(db: Db, memberIds: string[], seriesIds: string[]): Promise<Set<string>> {
    // The live series first (a few): a run over all of them (the end of day) reads no position.
    const outside = await db.$queryRaw<{ id: string }[]>`
      SELECT id FROM series WHERE status IN ('LISTED', 'TRADING', 'EXPIRED') AND NOT (id = ANY(${seriesIds}::uuid[]))`;
    if (outside.length === 0) return new Set();
    const rows = await db.$queryRaw<{ memberId: string }[]>`
      SELECT DISTINCT "memberId" FROM positions
      WHERE "seriesId" = ANY(${outside.map((s) => s.id)}::uuid[]) AND "marginQty" > 0 AND "memberId" = ANY(${memberIds}::uuid[])`;
    return new Set(rows.map((r) => r.memberId));
  }

  async adjustments(db: Db, memberIds: string[]): Promise<Map<string, bigint>> {
    const rows = await db.$queryRaw<{ memberId: string; productId: string; fen: bigint }[]>`
      SELECT "memberId", "productId", "adjustmentFen" AS fen FROM portfolio_margins WHERE "memberId" = ANY(${memberIds}::uuid[])`;
    return new Map(rows.map((r) => [`${r.memberId}:${r.productId}`, BigInt(r.fen)]));
  }

  /** Adds each delta to the member's adjustment in the product. */
  async addAdjustments(db: Db, rows: { memberId: string; productId: string; deltaFen: bigint }[]): Promise<void> {
    if (rows.length === 0) return;
    await db.$executeRaw`
      INSERT INTO portfolio_margins ("memberId", "productId", "adjustmentFen", "updatedAt")
      SELECT m, pid, d, now() FROM unnest(${rows.map((r) => r.memberId)}::uuid[], ${rows.map((r) => r.productId)}::uuid[], ${rows.map((r) => r.deltaFen.toString())}::bigint[]) AS x(m, pid, d)
      ON CONFLICT ("memberId", "productId") DO UPDATE SET "adjustmentFen" = portfolio_margins."adjustmentFen" + EXCLUDED."adjustmentFen", "updatedAt" = now()`;
  }

  /** Members with an open MAINTENANCE call among these. */
  async openMaintenance(db: Db, memberIds: string[]): Promise<MarginCall[]> {
    return db.marginCall.findMany({ where: { memberId: { in: memberIds }, status: 'OPEN', type: 'MAINTENANCE' } });
  }

  async openMaintenanceCalls(
    db: Db,
    calls: { memberId: string; amountFen: bigint }[],
    businessDate: Date,
    dueAt: Date,
    runId: string | null,
  ): Promise<number> {
    if (calls.length === 0) return 0;
    const r = await db.marginCall.createMany({
      data: calls.map((c) => ({ memberId: c.memberId, amountFen: c.amountFen, businessDate, dueAt, runId, type: 'MAINTENANCE' as const })),
    });
    return r.count;
  }

  async closeCalls(db: Db, ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const r = await db.marginCall.updateMany({
      where: { id: { in: ids }, status: 'OPEN' },
      data: { status: 'CLOSED', closedAt: new Date() },
    });
    return r.count;
  }

  /** Members with positions, in id order, after `after`. */
  async memberRange(db: Db, after: string | null, size: number): Promise<{ last: string } | null> {
    const [row] = await db.$queryRaw<{ last: string | null }[]>`
      SELECT (array_agg(m ORDER BY m DESC))[1] AS last FROM (
        SELECT DISTINCT "memberId" AS m FROM positions WHERE ${after}::uuid IS NULL OR "memberId" > ${after}::uuid ORDER BY 1 LIMIT ${size}) x`;
    return row.last === null ? null : { last: row.last };
  }

  productsByIds(db: Db, ids: string[]) {
    return db.product.findMany({ where: { id: { in: ids } } });
  }
}
