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
             p."longQty" - p."shortQty" AS net, COALESCE(r."buyQty", 0) AS buy, COALESCE(r."sellQty", 0) AS sell
      FROM products pr JOIN series s ON s."productId" = pr.id AND s.status IN ('LISTED', 'TRADING')
      JOIN positions p ON p."seriesId" = s.id
      LEFT JOIN resting_quantities r ON r."memberId" = p."memberId" AND r."seriesId" = s.id
      WHERE pr."positionLimit" IS NOT NULL OR pr."spotMonthLimit" IS NOT NULL
      ORDER BY pr.code, p."memberId", s.code`;
  }
}
