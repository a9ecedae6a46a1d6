import { Injectable } from '@nestjs/common';
import type { Db } from '../platform/prisma/prisma.service.js';

export interface LimitedExposure {
  memberId: string;
  productCode: string;
  positionLimit: number | null;
  spotMonthLimit: number | null;
  seriesCode: string;
  deliveryStart: Date;
  net: number;
  buy: number;
  sell: number;
}

@Injectable()
export class LargeTradersRepository {
  /** Every position (with resting orders) in a trading series of a product with a position limit. */
  exposures(db: Db): Promise<LimitedExposure[]> {
    return db.$queryRaw<LimitedExposure[]>`
      SELECT p."memberId", pr.code AS "productCode", pr."positionLimit", pr."spotMonthLimit", s.code AS "seriesCode", s."deliveryStart",
             p."longQty" - p."shortQty" AS net, COALESCE(r.buy, 0)::int AS buy, COALESCE(r.sell, 0)::int AS sell
      FROM products pr JOIN series s ON s."productId" = pr.id AND s.status IN ('LISTED', 'TRADING')
      JOIN positions p ON p."seriesId" = s.id
      LEFT JOIN LATERAL (
        SELECT sum(o.quantity - o."filledQuantity") FILTER (WHERE o.side = 'BUY') AS buy, sum(o.quantity - o."filledQuantity") FILTER (WHERE o.side = 'SELL') AS sell
        FROM orders o WHERE o."memberId" = p."memberId" AND o."seriesId" = s.id AND o.status IN ('OPEN', 'PARTIALLY_FILLED')
      ) r ON true
      WHERE pr."positionLimit" IS NOT NULL OR pr."spotMonthLimit" IS NOT NULL
      ORDER BY pr.code, p."memberId", s.code`;
  }
}
