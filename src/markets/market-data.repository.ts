import { Injectable } from '@nestjs/common';
import type { Order, Position, SeriesEvent, Trade } from '../generated/prisma/client.js';
import type { OrderStatus } from '../generated/prisma/enums.js';
import type { Db } from '../platform/prisma/prisma.service.js';
import type { Side } from './domain/matching.js';

/** Today's market data of a series. */
export interface SeriesStats {
  id: string;
  bestBid: bigint | null;
  bestAsk: bigint | null;
  last: bigint | null;
  volume: bigint;
  openInterest: bigint;
}

export interface BookLevel {
  priceFen: bigint;
  quantity: bigint;
  orders: number;
}

/** Where a page of positions (by series, then member: the primary key) resumes. */
export interface PositionKey {
  seriesId: string;
  memberId: string;
}

/** Read views of the market: board statistics, book depth, and the lists of orders, trades and positions. */
@Injectable()
export class MarketDataRepository {
  /** Best bid and ask, last price, the business date's volume and open interest of each series, in one statement. */
  stats(db: Db, seriesIds: string[], businessDate: string): Promise<SeriesStats[]> {
    return db.$queryRaw<SeriesStats[]>`
      SELECT s.id,
        (SELECT max("priceFen") FROM orders WHERE "seriesId" = s.id AND side = 'BUY' AND status IN ('OPEN','PARTIALLY_FILLED')) AS "bestBid",
        (SELECT min("priceFen") FROM orders WHERE "seriesId" = s.id AND side = 'SELL' AND status IN ('OPEN','PARTIALLY_FILLED')) AS "bestAsk",
        (SELECT "priceFen" FROM trades WHERE "seriesId" = s.id ORDER BY seq DESC LIMIT 1) AS last,
        (SELECT COALESCE(sum(quantity), 0) FROM trades WHERE "seriesId" = s.id AND "businessDate" = ${businessDate}::date)::bigint AS volume,
        (SELECT COALESCE(sum(GREATEST("longQty" - "shortQty", 0)), 0) FROM positions WHERE "seriesId" = s.id)::bigint AS "openInterest"
      FROM unnest(${seriesIds}::uuid[]) AS s(id)`;
  }

  /** The best `levels` price levels of one side of a series' book, best first. */
  bookLevels(db: Db, seriesId: string, side: Side, levels: number): Promise<BookLevel[]> {
    return db.$queryRaw<BookLevel[]>`
      SELECT "priceFen", sum(quantity - "filledQuantity")::bigint AS quantity, count(*)::int AS orders FROM orders
      WHERE "seriesId" = ${seriesId}::uuid AND side = ${side}::"Side" AND status IN ('OPEN','PARTIALLY_FILLED')
      GROUP BY "priceFen" ORDER BY CASE WHEN ${side} = 'BUY' THEN -"priceFen" ELSE "priceFen" END LIMIT ${levels}`;
  }

  /** Orders newest first (seq), `limit + 1` of them before `beforeSeq`. */
  listOrders(
    db: Db,
    filter: { memberId?: string; status?: OrderStatus; seriesId?: string },
    beforeSeq: bigint | undefined,
    limit: number,
  ): Promise<Order[]> {
    return db.order.findMany({
      where: { ...filter, seq: beforeSeq === undefined ? undefined : { lt: beforeSeq } },
      orderBy: { seq: 'desc' },
      take: limit + 1,
    });
  }

  /** Trades newest first (seq), `limit + 1` of them before `beforeSeq`; with `memberId`, those it is a side of. */
  listTrades(db: Db, filter: { memberId?: string; seriesId?: string }, beforeSeq: bigint | undefined, limit: number): Promise<Trade[]> {
    return db.trade.findMany({
      where: {
        seriesId: filter.seriesId,
        seq: beforeSeq === undefined ? undefined : { lt: beforeSeq },
        ...(filter.memberId ? { OR: [{ buyerId: filter.memberId }, { sellerId: filter.memberId }] } : {}),
      },
      orderBy: { seq: 'desc' },
      take: limit + 1,
    });
  }

  /** Positions by series then member, `limit + 1` of them after `after`. */
  listPositions(
    db: Db,
    filter: { memberId?: string; seriesId?: string },
    after: PositionKey | undefined,
    limit: number,
  ): Promise<Position[]> {
    return db.position.findMany({
      where: {
        ...filter,
        ...(after ? { OR: [{ seriesId: { gt: after.seriesId } }, { seriesId: after.seriesId, memberId: { gt: after.memberId } }] } : {}),
      },
      orderBy: [{ seriesId: 'asc' }, { memberId: 'asc' }],
      take: limit + 1,
    });
  }

  /** The last 20 circuit-breaker events of each series, newest first. */
  async breakerEvents(db: Db, seriesIds: string[]): Promise<Map<string, SeriesEvent[]>> {
    if (seriesIds.length === 0) return new Map();
    const rows = await db.$queryRaw<SeriesEvent[]>`
      SELECT e.* FROM unnest(${seriesIds}::uuid[]) AS s(id), LATERAL (
        SELECT * FROM series_events e WHERE e."seriesId" = s.id ORDER BY e.at DESC, e.kind DESC LIMIT 20) e`;
    const out = new Map<string, SeriesEvent[]>();
    for (const r of rows) (out.get(r.seriesId) ?? out.set(r.seriesId, []).get(r.seriesId)!).push(r);
    return out;
  }
}
