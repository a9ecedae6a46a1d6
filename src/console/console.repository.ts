import { Injectable } from '@nestjs/common';
import { PrismaService } from '../platform/prisma/prisma.service.js';

/** Read models for the console's overview and the public market board (no writes here). */
@Injectable()
export class ConsoleRepository {
  constructor(private readonly prisma: PrismaService) {}

  async trialBalanceFen(): Promise<bigint> {
    const [r] = await this.prisma.$queryRaw<
      { total: bigint }[]
    >`SELECT COALESCE(sum("balanceFen"), 0)::bigint AS total FROM ledger_accounts`;
    return r.total;
  }

  async openMarginCalls(): Promise<{ count: number; amountFen: bigint; overdue: number }> {
    const [r] = await this.prisma.$queryRaw<{ count: number; amount: bigint; overdue: number }[]>`
      SELECT count(*)::int AS count, COALESCE(sum("amountFen"), 0)::bigint AS amount, count(*) FILTER (WHERE "dueAt" < now())::int AS overdue
      FROM margin_calls WHERE status = 'OPEN'`;
    return { count: r.count, amountFen: r.amount, overdue: r.overdue };
  }

  /** Open breaks bucketed by age, as clearing staff triage them. */
  openBreaksByAge(): Promise<{ bucket: string; count: number }[]> {
    return this.prisma.$queryRaw`
      SELECT bucket, count(*)::int AS count FROM (
        SELECT CASE WHEN now() - "firstSeenAt" < interval '1 hour' THEN '< 1 h'
                    WHEN now() - "firstSeenAt" < interval '1 day' THEN '1 h – 1 d'
                    WHEN now() - "firstSeenAt" < interval '7 days' THEN '1 – 7 d' ELSE '> 7 d' END AS bucket
        FROM breaks WHERE status = 'OPEN') b
      GROUP BY bucket ORDER BY min(bucket)`;
  }

  settlementPriceHistory(seriesIds: string[]): Promise<{ seriesId: string; businessDate: Date; priceFen: bigint; method: string }[]> {
    return this.prisma.$queryRaw`
      SELECT "seriesId", "businessDate", "priceFen", method::text AS method FROM settlement_prices
      WHERE "seriesId" = ANY(${seriesIds}::uuid[]) ORDER BY "businessDate"`;
  }
}
