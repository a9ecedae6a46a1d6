import { Injectable } from '@nestjs/common';
import type { Order } from '../generated/prisma/client.js';
import type { Db } from '../platform/prisma/prisma.service.js';
import type { Side } from './domain/matching.js';

export interface LevelKey {
  side: Side;
  priceFen: bigint;
}

export interface LevelTotals {
  levels: (LevelKey & { quantity: bigint })[];
  /** The database's clock at the read, in microseconds: orders the reads of every API copy. */
  version: number;
}

/** What /v1/stream publishes after a market change commits, read back from the committed state. */
@Injectable()
export class MarketStreamRepository {
  /** The open quantity now resting at each level (0 when none), and when that was read. */
  async levels(db: Db, seriesId: string, keys: LevelKey[]): Promise<LevelTotals> {
    const rows = await db.$queryRaw<{ side: Side; priceFen: bigint; quantity: bigint; version: bigint }[]>`
      SELECT l.side::text AS side, l.price AS "priceFen", COALESCE(sum(o.quantity - o."filledQuantity"), 0)::bigint AS quantity,
        (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS version
      FROM unnest(${keys.map((k) => k.side)}::text[], ${keys.map((k) => k.priceFen)}::bigint[]) AS l(side, price)
      LEFT JOIN orders o ON o."seriesId" = ${seriesId}::uuid AND o.side = l.side::"Side" AND o."priceFen" = l.price
        AND o.status IN ('OPEN','PARTIALLY_FILLED')
      GROUP BY l.side, l.price
      ORDER BY l.side, l.price`;
    return {
      levels: rows.map((r) => ({ side: r.side, priceFen: BigInt(r.priceFen), quantity: BigInt(r.quantity) })),
      version: Number(rows[0]?.version ?? 0n),
    };
  }

  orders(db: Db, ids: string[]): Promise<Order[]> {
    return db.order.findMany({ where: { id: { in: ids } }, orderBy: { seq: 'asc' } });
  }
}
