import { Injectable } from '@nestjs/common';
import type { Db } from '../platform/prisma/prisma.service.js';
import type { SeriesLeg } from '../risk/domain/portfolio-margin.js';

/** Portfolio margin outside the order batch: members' margined legs in one product, and their adjustments. */
@Injectable()
export class PortfolioRepository {
  /** Legs whose outright margin is held (marginQty > 0) in the product's series, at each series' margin price. */
  async legs(db: Db, memberIds: string[], productId: string, withOpenInterest: boolean): Promise<Map<string, SeriesLeg[]>> {
    const rows = await db.$queryRaw<
      { memberId: string; seriesId: string; net: number; buy: number; sell: number; price: bigint; oi: number }[]
    >`
      SELECT p."memberId", p."seriesId", p."longQty" - p."shortQty" AS net, COALESCE(r."buyQty", 0) AS buy, COALESCE(r."sellQty", 0) AS sell,
             COALESCE(s."lastSettlementPriceFen", s."referencePriceFen") AS price,
             CASE WHEN ${withOpenInterest} THEN (SELECT COALESCE(sum(q."longQty"), 0) FROM positions q WHERE q."seriesId" = s.id) ELSE 0 END::int AS oi
      FROM positions p JOIN series s ON s.id = p."seriesId" AND s."productId" = ${productId}::uuid AND s.status <> 'SETTLED'
      LEFT JOIN resting_quantities r ON r."memberId" = p."memberId" AND r."seriesId" = p."seriesId"
      WHERE p."memberId" = ANY(${memberIds}::uuid[]) AND p."marginQty" > 0`;
    const out = new Map<string, SeriesLeg[]>(memberIds.map((m) => [m, []]));
    for (const r of rows)
      out.get(r.memberId)!.push({
        seriesId: r.seriesId,
        net: r.net,
        restingBuyQty: r.buy,
        restingSellQty: r.sell,
        priceFen: BigInt(r.price),
        openInterest: r.oi,
      });
    return out;
  }

  async adjustments(db: Db, memberIds: string[], productId: string): Promise<Map<string, bigint>> {
    const rows = await db.$queryRaw<{ memberId: string; fen: bigint }[]>`
      SELECT "memberId", "adjustmentFen" AS fen FROM portfolio_margins WHERE "productId" = ${productId}::uuid AND "memberId" = ANY(${memberIds}::uuid[])`;
    return new Map(rows.map((r) => [r.memberId, BigInt(r.fen)]));
  }

  async addAdjustments(db: Db, productId: string, rows: { memberId: string; deltaFen: bigint }[]): Promise<void> {
    if (rows.length === 0) return;
    await db.$executeRaw`
      INSERT INTO portfolio_margins ("memberId", "productId", "adjustmentFen", "updatedAt")
      SELECT m, ${productId}::uuid, d, now() FROM unnest(${rows.map((r) => r.memberId)}::uuid[], ${rows.map((r) => r.deltaFen.toString())}::bigint[]) AS x(m, d)
      ON CONFLICT ("memberId", "productId") DO UPDATE SET "adjustmentFen" = portfolio_margins."adjustmentFen" + EXCLUDED."adjustmentFen", "updatedAt" = now()`;
  }
}
