import { expect } from 'vitest';
import type { PrismaService } from '../../src/platform/prisma/prisma.service.js';

/**
 * resting_quantities (kept by triggers on orders, read by the pre-trade risk checks) equals the
 * live orders' remaining quantities, recomputed here from the orders themselves.
 */
export async function expectRestingConsistent(prisma: PrismaService): Promise<void> {
  const drift = await prisma.$queryRaw<{ memberId: string; seriesId: string; kept: string; live: string }[]>`
    WITH live AS (
      SELECT "memberId", "seriesId",
             COALESCE(sum(quantity - "filledQuantity") FILTER (WHERE side = 'BUY'), 0)::int AS buy,
             COALESCE(sum(quantity - "filledQuantity") FILTER (WHERE side = 'SELL'), 0)::int AS sell
      FROM orders WHERE status IN ('OPEN', 'PARTIALLY_FILLED') GROUP BY 1, 2
    )
    SELECT COALESCE(r."memberId", l."memberId") AS "memberId", COALESCE(r."seriesId", l."seriesId") AS "seriesId",
           concat(r."buyQty", '/', r."sellQty") AS kept, concat(l.buy, '/', l.sell) AS live
    FROM resting_quantities r FULL JOIN live l ON l."memberId" = r."memberId" AND l."seriesId" = r."seriesId"
    WHERE COALESCE(r."buyQty", 0) <> COALESCE(l.buy, 0) OR COALESCE(r."sellQty", 0) <> COALESCE(l.sell, 0)`;
  expect(drift).toEqual([]);
  const [{ n }] = await prisma.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM resting_quantities WHERE "buyQty" < 0 OR "sellQty" < 0`;
  expect(n).toBe(0n);
}
