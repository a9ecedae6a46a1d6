import { Injectable } from '@nestjs/common';
import type { Order } from '../generated/prisma/client.js';
import type { SeriesStatus } from '../generated/prisma/enums.js';
import type { RawSql } from '../platform/prisma/prisma.service.js';
import { dateColumn } from '../platform/time/business-date.js';
import type { AcceptedOrder, BookOrder, MemberState } from './domain/order-batch.js';
import type { Side } from './domain/matching.js';
import type { NewTrade } from './markets.repository.js';

/** The parts of a series that change after listing; everything else is fixed at listing. */
export interface SeriesLiveFields {
  status: SeriesStatus;
  lastSettlementPriceFen: bigint | null;
  lastSettlementDate: Date | null;
}

export interface BatchSnapshot {
  live: SeriesLiveFields;
  members: Map<string, MemberState>;
  bids: BookOrder[];
  asks: BookOrder[];
  clientOrderIds: Set<string>;
}

/** A member's change of position and margin held in the series, written once per batch. */
export interface PositionChange {
  memberId: string;
  longAdd: number;
  shortAdd: number;
  marginQty: number;
}

interface SnapshotRow {
  live: { status: SeriesLiveFields['status']; price: string | null; date: string | null };
  members: { id: string; long: number; short: number; marginQty: number; buy: number; sell: number; cash: string | null }[] | null;
  book: { id: string; memberId: string; side: Side; price: string; remaining: number }[] | null;
  clientIds: string[] | null;
}

/**
 * The reads and writes of a matching batch, one statement each: a batch costs a handful of round
 * trips however many orders it holds. Amounts travel as text inside JSON (a JSON number cannot
 * carry every bigint).
 */
@Injectable()
export class OrderBatchRepository {
  /**
   * Under the series lock: the series' live fields, the resting orders any order of the batch
   * could meet (`maxBuy`/`minSell`: the batch's most aggressive limits), and every member of the
   * batch or of that book with position, margin held, resting quantities and free cash. Cash is
   * read, not locked: the ledger locks and re-checks it when the batch posts.
   */
  async snapshot(tx: RawSql, seriesId: string, memberIds: string[], maxBuy: bigint | null, minSell: bigint | null, clientKeys: { memberId: string; clientOrderId: string }[]): Promise<BatchSnapshot> {
    const [row] = await tx.$queryRaw<SnapshotRow[]>`
      WITH book AS (
        SELECT id, "memberId", side, "priceFen", quantity - "filledQuantity" AS remaining, seq FROM orders
        WHERE "seriesId" = ${seriesId}::uuid AND status IN ('OPEN', 'PARTIALLY_FILLED')
          AND ((side = 'SELL' AND "priceFen" <= ${maxBuy}::bigint) OR (side = 'BUY' AND "priceFen" >= ${minSell}::bigint))
      ),
      mem AS (SELECT unnest(${memberIds}::uuid[]) AS id UNION SELECT "memberId" FROM book),
      resting AS (
        SELECT "memberId", sum(quantity - "filledQuantity") FILTER (WHERE side = 'BUY') AS buy, sum(quantity - "filledQuantity") FILTER (WHERE side = 'SELL') AS sell
        FROM orders WHERE "seriesId" = ${seriesId}::uuid AND status IN ('OPEN', 'PARTIALLY_FILLED') AND "memberId" IN (SELECT id FROM mem)
        GROUP BY "memberId"
      )
      SELECT
        (SELECT json_build_object('status', status, 'price', "lastSettlementPriceFen"::text, 'date', "lastSettlementDate"::text) FROM series WHERE id = ${seriesId}::uuid) AS live,
        (SELECT json_agg(json_build_object('id', m.id, 'long', COALESCE(p."longQty", 0), 'short', COALESCE(p."shortQty", 0), 'marginQty', COALESCE(p."marginQty", 0),
                'buy', COALESCE(r.buy, 0), 'sell', COALESCE(r.sell, 0), 'cash', a."balanceFen"::text))
           FROM mem m LEFT JOIN positions p ON p."memberId" = m.id AND p."seriesId" = ${seriesId}::uuid LEFT JOIN resting r ON r."memberId" = m.id
           LEFT JOIN ledger_accounts a ON a."memberId" = m.id AND a.type = 'CASH') AS members,
        (SELECT json_agg(json_build_object('id', id, 'memberId', "memberId", 'side', side, 'price', "priceFen"::text, 'remaining', remaining)
                ORDER BY CASE WHEN side = 'BUY' THEN -"priceFen" ELSE "priceFen" END, seq) FROM book) AS book,
        (SELECT json_agg("memberId" || ':' || "clientOrderId") FROM orders
           WHERE ("memberId", "clientOrderId") IN (SELECT * FROM unnest(${clientKeys.map((k) => k.memberId)}::uuid[], ${clientKeys.map((k) => k.clientOrderId)}::text[]))) AS "clientIds"`;
    const members = new Map<string, MemberState>();
    for (const m of row.members ?? []) {
      members.set(m.id, { net: m.long - m.short, restingBuyQty: m.buy, restingSellQty: m.sell, marginQty: m.marginQty, cashFen: BigInt(m.cash ?? 0) });
    }
    const book = (row.book ?? []).map((o) => ({ id: o.id, memberId: o.memberId, side: o.side, priceFen: BigInt(o.price), remaining: o.remaining }));
    return {
      live: { status: row.live.status, lastSettlementPriceFen: row.live.price === null ? null : BigInt(row.live.price), lastSettlementDate: row.live.date === null ? null : dateColumn(row.live.date) },
      members,
      bids: book.filter((o) => o.side === 'BUY'),
      asks: book.filter((o) => o.side === 'SELL'),
      clientOrderIds: new Set(row.clientIds ?? []),
    };
  }

  /**
   * Everything the batch changed, in one statement: its orders (in batch order, so time priority
   * follows arrival), fills and self-trade cancellations of orders that rested before it, its
   * trades, and the members' positions and margin held. Returns the new orders' rows.
   */
  async write(tx: RawSql, seriesId: string, orders: AcceptedOrder[], resting: { id: string; filled: number; cancelled: boolean }[], trades: NewTrade[], positions: PositionChange[]): Promise<Map<string, Pick<Order, 'seq' | 'createdAt' | 'updatedAt'>>> {
    const o = <T>(f: (a: AcceptedOrder) => T) => orders.map(f);
    const t = <T>(f: (a: NewTrade) => T) => trades.map(f);
    const rows = await tx.$queryRaw<{ id: string; seq: string; createdAt: Date; updatedAt: Date }[]>`
      WITH new_orders AS (
        INSERT INTO orders (id, "seriesId", "memberId", side, "priceFen", quantity, "filledQuantity", status, "timeInForce", "clientOrderId", "cancelReason", "updatedAt")
        SELECT id, ${seriesId}::uuid, member, side::"Side", price, qty, filled, status::"OrderStatus", tif::"TimeInForce", client, reason, now()
        FROM unnest(${o((a) => a.input.id)}::uuid[], ${o((a) => a.input.memberId)}::uuid[], ${o((a) => a.input.side)}::text[], ${o((a) => a.input.priceFen.toString())}::bigint[],
                    ${o((a) => a.input.quantity)}::int[], ${o((a) => a.filledQuantity)}::int[], ${o((a) => a.status)}::text[], ${o((a) => a.input.timeInForce)}::text[],
                    ${o((a) => a.input.clientOrderId ?? null)}::text[], ${o((a) => a.cancelReason ?? null)}::text[]) WITH ORDINALITY
             AS x(id, member, side, price, qty, filled, status, tif, client, reason, n)
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
        SELECT id, ${seriesId}::uuid, price, qty, buyer, seller, buy_order, sell_order, false, bdate, at
        FROM unnest(${t((a) => a.id)}::uuid[], ${t((a) => a.priceFen.toString())}::bigint[], ${t((a) => a.quantity)}::int[], ${t((a) => a.buyerId)}::uuid[], ${t((a) => a.sellerId)}::uuid[],
                    ${t((a) => a.buyOrderId)}::uuid[], ${t((a) => a.sellOrderId)}::uuid[], ${t((a) => a.businessDate)}::date[], ${t((a) => a.createdAt.toISOString())}::timestamptz[]) WITH ORDINALITY
             AS x(id, price, qty, buyer, seller, buy_order, sell_order, bdate, at, n)
        ORDER BY n
        RETURNING 1
      ),
      new_positions AS (
        INSERT INTO positions ("memberId", "seriesId", "longQty", "shortQty", "marginQty", "firstLongAt", "updatedAt")
        SELECT m, ${seriesId}::uuid, l, s, q, CASE WHEN l > 0 THEN now() END, now()
        FROM unnest(${positions.map((p) => p.memberId)}::uuid[], ${positions.map((p) => p.longAdd)}::int[], ${positions.map((p) => p.shortAdd)}::int[], ${positions.map((p) => p.marginQty)}::int[]) AS x(m, l, s, q)
        ON CONFLICT ("memberId", "seriesId") DO UPDATE SET
          "longQty" = positions."longQty" + EXCLUDED."longQty",
          "shortQty" = positions."shortQty" + EXCLUDED."shortQty",
          "marginQty" = EXCLUDED."marginQty",
          "firstLongAt" = COALESCE(positions."firstLongAt", EXCLUDED."firstLongAt"),
          "updatedAt" = now()
        RETURNING 1
      )
      -- Every data-modifying CTE runs to completion whether or not it is read.
      SELECT id, seq::text AS seq, "createdAt", "updatedAt" FROM new_orders`;
    return new Map(rows.map((r) => [r.id, { seq: BigInt(r.seq), createdAt: r.createdAt, updatedAt: r.updatedAt }]));
  }
}
