import { Injectable } from '@nestjs/common';
import type { Order } from '../generated/prisma/client.js';
import type { SeriesStatus } from '../generated/prisma/enums.js';
import type { RawSql } from '../platform/prisma/prisma.service.js';
import { dateColumn } from '../platform/time/business-date.js';
import type { SeriesLeg } from '../risk/domain/portfolio-margin.js';
import type { AcceptedOrder, BookOrder, MemberPosition } from './domain/order-batch.js';
import type { Side } from './domain/matching.js';
import type { NewTrade } from './markets.repository.js';

/** The parts of a series that change after listing; everything else is fixed at listing. */
export interface SeriesLiveFields {
  status: SeriesStatus;
  lastSettlementPriceFen: bigint | null;
  lastSettlementDate: Date | null;
  pausedUntil: Date | null;
  anchorPriceFen: bigint | null;
  anchorAt: Date | null;
}

/** What the risk checks read of a series besides its live fields (each only when its product needs it). */
export interface SeriesRiskRead {
  /** The last trade at least an hour old (circuit breaker). */
  oldTrade?: { priceFen: bigint; at: Date };
  /** Contracts long over every member (concentration add-on). */
  openInterest: number;
}

/** What the batch reads of each series: the most aggressive limits of its orders bound the book read. */
export interface SeriesRead {
  seriesId: string;
  memberIds: string[];
  maxBuy: bigint | null;
  minSell: bigint | null;
  /** Total quantity of the batch's buys and sells in the series. */
  buyQty: number;
  sellQty: number;
  /** The product has portfolio margin or an all-months limit: read members' other series of it. */
  portfolio: boolean;
  /** The product has a circuit breaker: read the anchoring trade. */
  breaker: boolean;
  /** The product has a concentration add-on: read open interest. */
  openInterest: boolean;
}

export interface BatchSnapshot {
  live: Map<string, SeriesLiveFields>;
  /** seriesId → memberId → position. */
  positions: Map<string, Map<string, MemberPosition>>;
  /** seriesId → resting orders in priority order, both sides. */
  books: Map<string, BookOrder[]>;
  cash: Map<string, bigint>;
  clientOrderIds: Set<string>;
  risk: Map<string, SeriesRiskRead>;
  /** `${memberId}:${productId}` → the member's legs in the product's series outside the batch's pairs. */
  otherLegs: Map<string, SeriesLeg[]>;
  /** `${memberId}:${productId}` → portfolio adjustment held. */
  adjustments: Map<string, bigint>;
  /** Members of the batch under an open MAINTENANCE call. */
  maintenanceCalls: Set<string>;
}

/** A circuit-breaker pause decided by a batch. */
export interface SeriesPause {
  seriesId: string;
  until: Date;
  priceFen: bigint;
  anchorFen: bigint;
  at: Date;
}

/** A change of a member's portfolio adjustment in a product. */
export interface AdjustmentChange {
  memberId: string;
  productId: string;
  deltaFen: bigint;
}

/** A member's change of position and margin held in a series, written once per batch. */
export interface PositionChange {
  seriesId: string;
  memberId: string;
  longAdd: number;
  shortAdd: number;
  marginQty: number;
}

interface SnapshotRow {
  live: {
    id: string;
    status: SeriesStatus;
    price: string | null;
    date: string | null;
    pausedUntil: string | null;
    anchor: string | null;
    anchorAt: string | null;
    oldPrice: string | null;
    oldAt: string | null;
    oi: number | null;
  }[];
  riskPairs: { memberId: string; productId: string }[] | null;
  /**
   * Column-wise (one array per field: ~250 legs a batch, keys once); memberId is null when there is
   * no row. memberId and seriesId are null on a row with resting quantities and no margined leg
   * (none expected).
   */
  riskLegs: { memberId: (string | null)[] | null; seriesId: (string | null)[]; net: (number | null)[]; buy: number[]; sell: number[] };
  riskSeries: { id: string; productId: string; price: string; oi: number }[] | null;
  adjustments: { memberId: string; productId: string; fen: string }[] | null;
  calls: string[] | null;
  positions: { seriesId: string; memberId: string; long: number; short: number; marginQty: number; buy: number; sell: number }[] | null;
  cash: { memberId: string; cash: string }[] | null;
  book: { id: string; seriesId: string; memberId: string; side: Side; price: string; remaining: number }[] | null;
  clientIds: string[] | null;
}

/**
 * The reads and writes of a matching batch, one statement each: a batch costs a handful of round
 * trips however many orders and series it holds. Amounts travel as text inside JSON (a JSON
 * number cannot carry every bigint).
 */
@Injectable()
export class OrderBatchRepository {
  /**
   * Generic plans for the rest of the batch's transaction. The snapshot is one large statement
   * whose parameters are arrays: Postgres kept re-planning it for every batch (a custom plan,
   * ~2.5–3.5 ms at bind against ~1 ms to run it, seen in the server log under bench:orders), as
   * it judged the generic plan dearer on estimates alone. Its shape does not depend on the
   * values (ids and quantities looked up by key), so one plan serves every batch.
   */
  async useGenericPlans(tx: RawSql): Promise<void> {
    await tx.$queryRaw`SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`;
  }

  /**
   * Under the series locks: each series' live fields, the resting orders any order of the batch
   * could meet, and for every member of the batch or of those books its position, margin held
   * and resting quantities per series, and its free cash. Cash is read, not locked: the ledger
   * locks and re-checks it when the batch posts.
   */
  async snapshot(
    tx: RawSql,
    reads: SeriesRead[],
    clientKeys: { memberId: string; clientOrderId: string }[],
    anchorCutoff: Date,
  ): Promise<BatchSnapshot> {
    const pairs = reads.flatMap((r) => r.memberIds.map((m) => [r.seriesId, m]));
    const [row] = await tx.$queryRaw<SnapshotRow[]>`
      WITH lim AS (
        SELECT * FROM unnest(${reads.map((r) => r.seriesId)}::uuid[], ${reads.map((r) => r.maxBuy?.toString() ?? null)}::bigint[], ${reads.map((r) => r.minSell?.toString() ?? null)}::bigint[],
                             ${reads.map((r) => r.buyQty)}::int[], ${reads.map((r) => r.sellQty)}::int[], ${reads.map((r) => r.portfolio)}::boolean[],
                             ${reads.map((r) => r.breaker)}::boolean[], ${reads.map((r) => r.openInterest)}::boolean[]) AS l(sid, max_buy, min_sell, need_buy, need_sell, portfolio, breaker, oi)
      ),
      batch_members AS (
        SELECT * FROM unnest(${pairs.map((p) => p[0])}::uuid[], ${pairs.map((p) => p[1])}::uuid[]) AS x(sid, member)
      ),
      -- The orders any order of the batch could meet: per series and side, the first \`need\`
      -- orders of other members in priority order (each holds at least one contract; one scan
      -- per status keeps the index order, so the scan stops early), and every order of the
      -- batch's own members in range (self-trade prevention may skip them).
      crossing AS (
        SELECT c.*, lim.need_buy AS need, false AS mine FROM lim, LATERAL (
          SELECT * FROM (
            (SELECT o.id, o."seriesId", o."memberId", o.side, o."priceFen", o.quantity - o."filledQuantity" AS remaining, o.seq FROM orders o
              WHERE o."seriesId" = lim.sid AND o.side = 'SELL' AND o.status = 'OPEN' AND o."priceFen" <= lim.max_buy
                AND o."memberId" NOT IN (SELECT member FROM batch_members m WHERE m.sid = lim.sid)
              ORDER BY o."priceFen", o.seq LIMIT lim.need_buy)
            UNION ALL
            (SELECT o.id, o."seriesId", o."memberId", o.side, o."priceFen", o.quantity - o."filledQuantity", o.seq FROM orders o
              WHERE o."seriesId" = lim.sid AND o.side = 'SELL' AND o.status = 'PARTIALLY_FILLED' AND o."priceFen" <= lim.max_buy
                AND o."memberId" NOT IN (SELECT member FROM batch_members m WHERE m.sid = lim.sid)
              ORDER BY o."priceFen", o.seq LIMIT lim.need_buy)
          ) x
        ) c
        UNION ALL
        SELECT c.*, lim.need_sell, false FROM lim, LATERAL (
          SELECT * FROM (
            (SELECT o.id, o."seriesId", o."memberId", o.side, o."priceFen", o.quantity - o."filledQuantity" AS remaining, o.seq FROM orders o
              WHERE o."seriesId" = lim.sid AND o.side = 'BUY' AND o.status = 'OPEN' AND o."priceFen" >= lim.min_sell
                AND o."memberId" NOT IN (SELECT member FROM batch_members m WHERE m.sid = lim.sid)
              ORDER BY o."priceFen" DESC, o.seq LIMIT lim.need_sell)
            UNION ALL
            (SELECT o.id, o."seriesId", o."memberId", o.side, o."priceFen", o.quantity - o."filledQuantity", o.seq FROM orders o
              WHERE o."seriesId" = lim.sid AND o.side = 'BUY' AND o.status = 'PARTIALLY_FILLED' AND o."priceFen" >= lim.min_sell
                AND o."memberId" NOT IN (SELECT member FROM batch_members m WHERE m.sid = lim.sid)
              ORDER BY o."priceFen" DESC, o.seq LIMIT lim.need_sell)
          ) x
        ) c
        UNION ALL
        SELECT o.id, o."seriesId", o."memberId", o.side, o."priceFen", o.quantity - o."filledQuantity", o.seq,
               CASE WHEN o.side = 'SELL' THEN lim.need_buy ELSE lim.need_sell END, true
        FROM batch_members m JOIN lim ON lim.sid = m.sid
        JOIN orders o ON o."memberId" = m.member AND o."seriesId" = m.sid AND o.status IN ('OPEN', 'PARTIALLY_FILLED')
          AND ((o.side = 'SELL' AND o."priceFen" <= lim.max_buy) OR (o.side = 'BUY' AND o."priceFen" >= lim.min_sell))
      ),
      -- Matching only ever takes a prefix of each side (in priority order) and at most the
      -- batch's quantity from it; orders of the batch's own members may be skipped (self-trade
      -- prevention), so they do not count. The book is read up to where that quantity is met.
      book AS (
        SELECT id, "seriesId", "memberId", side, "priceFen", remaining, seq FROM (
          SELECT c.*, sum(CASE WHEN mine THEN 0 ELSE remaining END)
                        OVER (PARTITION BY "seriesId", side ORDER BY CASE WHEN side = 'BUY' THEN -"priceFen" ELSE "priceFen" END, seq) AS cum
          FROM crossing c
        ) x
        WHERE cum - CASE WHEN mine THEN 0 ELSE remaining END < need
      ),
      pairs AS (
        SELECT sid, member FROM batch_members
        UNION SELECT "seriesId", "memberId" FROM book
      ),
      -- Portfolio margin and the all-months limit look at the member's other series of the
      -- product: read, not locked (their own batches hold those series).
      risk_pairs AS (
        SELECT DISTINCT x.member, s."productId" AS pid FROM pairs x JOIN lim ON lim.sid = x.sid AND lim.portfolio JOIN series s ON s.id = x.sid
      ),
      -- The live series of the products whose portfolios the batch reads, with open interest when
      -- the product charges a concentration add-on. The batch's own series are among them: a
      -- product with an add-on has portfolio margin.
      risk_series AS MATERIALIZED (
        SELECT s2.id, s2."productId" AS pid, COALESCE(s2."lastSettlementPriceFen", s2."referencePriceFen") AS price,
               CASE WHEN pr."concentrationAddOnBp" > 0 THEN (SELECT COALESCE(sum(q."longQty"), 0) FROM positions q WHERE q."seriesId" = s2.id) ELSE 0 END AS oi
        FROM series s2 JOIN products pr ON pr.id = s2."productId"
        WHERE s2."productId" IN (SELECT pid FROM risk_pairs) AND s2.status <> 'SETTLED'
      ),
      -- Resting quantities come from resting_quantities, kept by triggers on orders (summing
      -- each member's live orders per series cost a scan of them per pair).
      resting AS (
        SELECT r."seriesId" AS sid, r."memberId" AS member, r."buyQty" AS buy, r."sellQty" AS sell
        FROM pairs JOIN resting_quantities r ON r."memberId" = pairs.member AND r."seriesId" = pairs.sid
      )
      SELECT
        (SELECT json_agg(json_build_object('id', s.id, 'status', s.status, 'price', s."lastSettlementPriceFen"::text, 'date', s."lastSettlementDate"::text,
                'pausedUntil', s."pausedUntil", 'anchor', s."anchorPriceFen"::text, 'anchorAt', s."anchorAt", 'oldPrice', old.price::text, 'oldAt', old.at,
                'oi', CASE WHEN lim.oi THEN (SELECT rs.oi FROM risk_series rs WHERE rs.id = s.id) END))
           FROM series s JOIN lim ON lim.sid = s.id
           LEFT JOIN LATERAL (
             SELECT t."priceFen" AS price, t."createdAt" AS at FROM trades t
             WHERE lim.breaker AND t."seriesId" = s.id AND t."createdAt" <= ${anchorCutoff}::timestamptz ORDER BY t."createdAt" DESC LIMIT 1
           ) old ON true) AS live,
        -- A portfolio member's legs in the product's other series are put together by the caller
        -- from three plain reads, each through its own index by key arrays (= ANY (ARRAY(…)) is an
        -- index condition; IN (SELECT …) left the generic plan free to scan the table): in one
        -- join under the generic plan (estimates of a row or two per CTE) Postgres walked every
        -- series' orders and positions once per leg, ~250 legs a batch at 10 series and 32 members.
        (SELECT json_agg(json_build_object('memberId', member, 'productId', pid)) FROM risk_pairs) AS "riskPairs",
        (SELECT json_build_object('memberId', json_agg(q."memberId"), 'seriesId', json_agg(q."seriesId"), 'net', json_agg(q."longQty" - q."shortQty"),
                'buy', json_agg(COALESCE(r."buyQty", 0)), 'sell', json_agg(COALESCE(r."sellQty", 0)))
           -- Margined legs only: a series whose margin was released at expiry no longer counts
           -- (a resting order holds margin, so every resting quantity is on a margined leg).
           FROM (SELECT * FROM positions q WHERE q."memberId" = ANY (ARRAY(SELECT member FROM risk_pairs)) AND q."marginQty" > 0
                   AND q."seriesId" = ANY (ARRAY(SELECT id FROM risk_series))) q
           -- FULL JOIN keeps both reads on their own key arrays (a LEFT JOIN let the generic plan
           -- probe one side per row of the other: 18 ms a batch, and so did a WHERE on the
           -- margined side, which reduces the join to a LEFT JOIN); rows without a margined leg
           -- (memberId null) are skipped by the caller.
           FULL JOIN (SELECT * FROM resting_quantities r WHERE r."memberId" = ANY (ARRAY(SELECT member FROM risk_pairs))
                        AND r."seriesId" = ANY (ARRAY(SELECT id FROM risk_series))) r
             ON r."memberId" = q."memberId" AND r."seriesId" = q."seriesId") AS "riskLegs",
        (SELECT json_agg(json_build_object('id', id, 'productId', pid, 'price', price::text, 'oi', oi)) FROM risk_series) AS "riskSeries",
        (SELECT json_agg(json_build_object('memberId', pm."memberId", 'productId', pm."productId", 'fen', pm."adjustmentFen"::text))
           FROM portfolio_margins pm JOIN risk_pairs rp ON rp.member = pm."memberId" AND rp.pid = pm."productId") AS adjustments,
        (SELECT json_agg(DISTINCT mc."memberId") FROM margin_calls mc
           WHERE mc.status = 'OPEN' AND mc.type = 'MAINTENANCE' AND mc."memberId" IN (SELECT member FROM batch_members)) AS calls,
        (SELECT json_agg(json_build_object('seriesId', x.sid, 'memberId', x.member, 'long', COALESCE(p."longQty", 0), 'short', COALESCE(p."shortQty", 0),
                'marginQty', COALESCE(p."marginQty", 0), 'buy', COALESCE(r.buy, 0), 'sell', COALESCE(r.sell, 0)))
           FROM pairs x LEFT JOIN positions p ON p."memberId" = x.member AND p."seriesId" = x.sid
           LEFT JOIN resting r ON r.member = x.member AND r.sid = x.sid) AS positions,
        (SELECT json_agg(json_build_object('memberId', a."memberId", 'cash', a."balanceFen"::text))
           FROM ledger_accounts a WHERE a.type = 'CASH' AND a."memberId" IN (SELECT member FROM pairs)) AS cash,
        (SELECT json_agg(json_build_object('id', id, 'seriesId', "seriesId", 'memberId', "memberId", 'side', side, 'price', "priceFen"::text, 'remaining', remaining)
                ORDER BY CASE WHEN side = 'BUY' THEN -"priceFen" ELSE "priceFen" END, seq) FROM book) AS book,
        (SELECT json_agg("memberId" || ':' || "clientOrderId") FROM orders
           WHERE ("memberId", "clientOrderId") IN (SELECT * FROM unnest(${clientKeys.map((k) => k.memberId)}::uuid[], ${clientKeys.map((k) => k.clientOrderId)}::text[]))) AS "clientIds"`;
    const positions = new Map(reads.map((r) => [r.seriesId, new Map<string, MemberPosition>()]));
    for (const p of row.positions ?? []) {
      positions
        .get(p.seriesId)!
        .set(p.memberId, { net: p.long - p.short, restingBuyQty: p.buy, restingSellQty: p.sell, marginQty: p.marginQty });
    }
    const books = new Map(reads.map((r) => [r.seriesId, [] as BookOrder[]]));
    for (const o of row.book ?? [])
      books.get(o.seriesId)!.push({ id: o.id, memberId: o.memberId, side: o.side, priceFen: BigInt(o.price), remaining: o.remaining });
    const otherLegs = otherLegsOf(row, row.positions ?? []);
    return {
      live: new Map(
        row.live.map((l) => [
          l.id,
          {
            status: l.status,
            lastSettlementPriceFen: l.price === null ? null : BigInt(l.price),
            lastSettlementDate: l.date === null ? null : dateColumn(l.date),
            pausedUntil: l.pausedUntil === null ? null : new Date(l.pausedUntil),
            anchorPriceFen: l.anchor === null ? null : BigInt(l.anchor),
            anchorAt: l.anchorAt === null ? null : new Date(l.anchorAt),
          },
        ]),
      ),
      risk: new Map(
        row.live.map((l) => [
          l.id,
          {
            oldTrade: l.oldPrice === null || l.oldAt === null ? undefined : { priceFen: BigInt(l.oldPrice), at: new Date(l.oldAt) },
            openInterest: l.oi ?? 0,
          },
        ]),
      ),
      positions,
      books,
      cash: new Map((row.cash ?? []).map((c) => [c.memberId, BigInt(c.cash)])),
      clientOrderIds: new Set(row.clientIds ?? []),
      otherLegs,
      adjustments: new Map((row.adjustments ?? []).map((a) => [`${a.memberId}:${a.productId}`, BigInt(a.fen)])),
      maintenanceCalls: new Set(row.calls ?? []),
    };
  }

  /**
   * Everything the batch changed, in one statement: its orders (in batch order, so time priority
   * follows arrival), fills and self-trade cancellations of orders that rested before it, its
   * trades, and the members' positions and margin held. Returns the new orders' rows.
   */
  async write(
    tx: RawSql,
    orders: AcceptedOrder[],
    resting: { id: string; filled: number; cancelled: boolean }[],
    trades: NewTrade[],
    positions: PositionChange[],
    adjustments: AdjustmentChange[] = [],
    pauses: SeriesPause[] = [],
  ): Promise<Map<string, Pick<Order, 'seq' | 'createdAt' | 'updatedAt'>>> {
    const o = <T>(f: (a: AcceptedOrder) => T) => orders.map(f);
    const t = <T>(f: (a: NewTrade) => T) => trades.map(f);
    const rows = await tx.$queryRaw<{ id: string; seq: string; createdAt: Date; updatedAt: Date }[]>`
      WITH new_orders AS (
        INSERT INTO orders (id, "seriesId", "memberId", side, "priceFen", quantity, "filledQuantity", status, "timeInForce", "clientOrderId", "cancelReason", "updatedAt")
        SELECT id, sid, member, side::"Side", price, qty, filled, status::"OrderStatus", tif::"TimeInForce", client, reason, now()
        FROM unnest(${o((a) => a.input.id)}::uuid[], ${o((a) => a.input.seriesId)}::uuid[], ${o((a) => a.input.memberId)}::uuid[], ${o((a) => a.input.side)}::text[], ${o((a) => a.input.priceFen.toString())}::bigint[],
                    ${o((a) => a.input.quantity)}::int[], ${o((a) => a.filledQuantity)}::int[], ${o((a) => a.status)}::text[], ${o((a) => a.input.timeInForce)}::text[],
                    ${o((a) => a.input.clientOrderId ?? null)}::text[], ${o((a) => a.cancelReason ?? null)}::text[]) WITH ORDINALITY
             AS x(id, sid, member, side, price, qty, filled, status, tif, client, reason, n)
        ORDER BY n
        RETURNING id, seq, "createdAt", "updatedAt"
      ),
      old_orders AS (
        UPDATE orders r SET "filledQuantity" = r."filledQuantity" + u.qty,
          status = CASE WHEN u.cancelled THEN 'CANCELLED'::"OrderStatus"
                        WHEN r."filledQuantity" + u.qty = r.quantity THEN 'FILLED'::"OrderStatus"
                        ELSE 'PARTIALLY_FILLED'::"OrderStatus" END,
          "cancelReason" = CASE WHEN u.cancelled THEN 'SELF_TRADE_PREVENTION' ELSE r."cancelReason" END,
          "updatedAt" = now()
        FROM unnest(${resting.map((r) => r.id)}::uuid[], ${resting.map((r) => r.filled)}::int[], ${resting.map((r) => r.cancelled)}::boolean[]) AS u(id, qty, cancelled)
        WHERE r.id = u.id
        RETURNING 1
      ),
      new_trades AS (
        INSERT INTO trades (id, "seriesId", "priceFen", quantity, "buyerId", "sellerId", "buyOrderId", "sellOrderId", block, "businessDate", "createdAt")
        SELECT id, sid, price, qty, buyer, seller, buy_order, sell_order, false, bdate, at
        FROM unnest(${t((a) => a.id)}::uuid[], ${t((a) => a.seriesId)}::uuid[], ${t((a) => a.priceFen.toString())}::bigint[], ${t((a) => a.quantity)}::int[], ${t((a) => a.buyerId)}::uuid[], ${t((a) => a.sellerId)}::uuid[],
                    ${t((a) => a.buyOrderId)}::uuid[], ${t((a) => a.sellOrderId)}::uuid[], ${t((a) => a.businessDate)}::date[], ${t((a) => a.createdAt.toISOString())}::timestamptz[]) WITH ORDINALITY
             AS x(id, sid, price, qty, buyer, seller, buy_order, sell_order, bdate, at, n)
        ORDER BY n
        RETURNING 1
      ),
      new_positions AS (
        INSERT INTO positions ("memberId", "seriesId", "longQty", "shortQty", "marginQty", "firstLongAt", "updatedAt")
        SELECT m, sid, l, s, q, CASE WHEN l > 0 THEN now() END, now()
        FROM unnest(${positions.map((p) => p.memberId)}::uuid[], ${positions.map((p) => p.seriesId)}::uuid[], ${positions.map((p) => p.longAdd)}::int[], ${positions.map((p) => p.shortAdd)}::int[], ${positions.map((p) => p.marginQty)}::int[]) AS x(m, sid, l, s, q)
        ON CONFLICT ("memberId", "seriesId") DO UPDATE SET
          "longQty" = positions."longQty" + EXCLUDED."longQty",
          "shortQty" = positions."shortQty" + EXCLUDED."shortQty",
          "marginQty" = EXCLUDED."marginQty",
          "firstLongAt" = COALESCE(positions."firstLongAt", EXCLUDED."firstLongAt"),
          "updatedAt" = now()
        RETURNING 1
      ),
      new_adjustments AS (
        INSERT INTO portfolio_margins ("memberId", "productId", "adjustmentFen", "updatedAt")
        SELECT m, pid, d, now()
        FROM unnest(${adjustments.map((a) => a.memberId)}::uuid[], ${adjustments.map((a) => a.productId)}::uuid[], ${adjustments.map((a) => a.deltaFen.toString())}::bigint[]) AS x(m, pid, d)
        ON CONFLICT ("memberId", "productId") DO UPDATE SET "adjustmentFen" = portfolio_margins."adjustmentFen" + EXCLUDED."adjustmentFen", "updatedAt" = now()
        RETURNING 1
      ),
      paused AS (
        UPDATE series s SET "pausedUntil" = x.until, "anchorPriceFen" = x.price, "anchorAt" = x.at
        FROM unnest(${pauses.map((p) => p.seriesId)}::uuid[], ${pauses.map((p) => p.until.toISOString())}::timestamptz[], ${pauses.map((p) => p.priceFen.toString())}::bigint[],
                    ${pauses.map((p) => p.at.toISOString())}::timestamptz[]) AS x(id, until, price, at)
        WHERE s.id = x.id
        RETURNING 1
      ),
      pause_events AS (
        INSERT INTO series_events (id, "seriesId", kind, "priceFen", "anchorFen", at)
        SELECT gen_random_uuid(), id, 'PAUSED', price, anchor, at
        FROM unnest(${pauses.map((p) => p.seriesId)}::uuid[], ${pauses.map((p) => p.priceFen.toString())}::bigint[], ${pauses.map((p) => p.anchorFen.toString())}::bigint[],
                    ${pauses.map((p) => p.at.toISOString())}::timestamptz[]) AS x(id, price, anchor, at)
        RETURNING 1
      )
      -- Every data-modifying CTE runs to completion whether or not it is read.
      SELECT id, seq::text AS seq, "createdAt", "updatedAt" FROM new_orders`;
    return new Map(rows.map((r) => [r.id, { seq: BigInt(r.seq), createdAt: r.createdAt, updatedAt: r.updatedAt }]));
  }
}

/**
 * `${memberId}:${productId}` → a portfolio member's margined legs in the product's live series
 * other than the batch's own pairs (those the batch reads and locks itself).
 */
function otherLegsOf(row: SnapshotRow, pairs: { seriesId: string; memberId: string }[]): Map<string, SeriesLeg[]> {
  const legs = new Map<string, SeriesLeg[]>();
  for (const r of row.riskPairs ?? []) legs.set(`${r.memberId}:${r.productId}`, []);
  if (legs.size === 0) return legs;
  const inBatch = new Set(pairs.map((p) => `${p.memberId}:${p.seriesId}`));
  const series = new Map((row.riskSeries ?? []).map((s) => [s.id, s]));
  const l = row.riskLegs;
  for (const [i, memberId] of (l.memberId ?? []).entries()) {
    const seriesId = l.seriesId[i];
    if (memberId === null || seriesId === null) continue;
    const s = series.get(seriesId);
    const mine = s && legs.get(`${memberId}:${s.productId}`);
    if (!s || !mine || inBatch.has(`${memberId}:${seriesId}`)) continue;
    mine.push({
      seriesId,
      net: l.net[i] ?? 0,
      restingBuyQty: l.buy[i],
      restingSellQty: l.sell[i],
      priceFen: BigInt(s.price),
      openInterest: s.oi,
    });
  }
  return legs;
}
