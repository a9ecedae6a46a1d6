import { Injectable } from '@nestjs/common';
import type { Db } from '../platform/prisma/prisma.service.js';

export interface VmInput {
  memberId: string;
  netStart: bigint;
  netEnd: bigint;
  todaysSignedCostFen: bigint;
}

@Injectable()
export class SettlementRepository {
  /**
   * Per member, from the trades alone: net position before and at the end of the business date,
   * and the signed cost of that day's trades. Keyset-paged by member id, so a run over a million
   * positions never holds them all in memory.
   */
  vmInputs(db: Db, seriesId: string, businessDate: string, afterMemberId: string | null, limit: number): Promise<VmInput[]> {
    return db.$queryRaw<VmInput[]>`
      WITH legs AS (
        SELECT "buyerId" AS member, quantity::bigint AS signed, "priceFen", "businessDate" FROM trades
          WHERE "seriesId" = ${seriesId}::uuid AND "businessDate" <= ${businessDate}::date
            AND (${afterMemberId}::uuid IS NULL OR "buyerId" > ${afterMemberId}::uuid)
        UNION ALL
        SELECT "sellerId", -quantity::bigint, "priceFen", "businessDate" FROM trades
          WHERE "seriesId" = ${seriesId}::uuid AND "businessDate" <= ${businessDate}::date
            AND (${afterMemberId}::uuid IS NULL OR "sellerId" > ${afterMemberId}::uuid)
      )
      SELECT member AS "memberId",
             COALESCE(sum(signed) FILTER (WHERE "businessDate" < ${businessDate}::date), 0)::bigint AS "netStart",
             sum(signed)::bigint AS "netEnd",
             COALESCE(sum(signed * "priceFen") FILTER (WHERE "businessDate" = ${businessDate}::date), 0)::bigint AS "todaysSignedCostFen"
      FROM legs GROUP BY member ORDER BY member LIMIT ${limit}`;
  }

  /** Members whose initial margin depends on this series: a position or a resting order. */
  marginMembers(db: Db, seriesId: string, afterMemberId: string | null, limit: number): Promise<{ memberId: string }[]> {
    return db.$queryRaw`
      SELECT DISTINCT "memberId" FROM (
        SELECT "memberId" FROM positions WHERE "seriesId" = ${seriesId}::uuid
        UNION SELECT "memberId" FROM orders WHERE "seriesId" = ${seriesId}::uuid AND status IN ('OPEN', 'PARTIALLY_FILLED')
      ) m WHERE ${afterMemberId}::uuid IS NULL OR "memberId" > ${afterMemberId}::uuid
      ORDER BY "memberId" LIMIT ${limit}`;
  }

  async windowVwapInputs(db: Db, seriesId: string, businessDate: string, from: Date, to: Date): Promise<{ priceFen: bigint; quantity: bigint }[]> {
    return db.$queryRaw`
      SELECT "priceFen", sum(quantity)::bigint AS quantity FROM trades
      WHERE "seriesId" = ${seriesId}::uuid AND "businessDate" = ${businessDate}::date AND "createdAt" >= ${from} AND "createdAt" < ${to}
      GROUP BY "priceFen"`;
  }

  async bestBidAsk(db: Db, seriesId: string): Promise<{ bid: bigint | null; ask: bigint | null }> {
    const [row] = await db.$queryRaw<{ bid: bigint | null; ask: bigint | null }[]>`
      SELECT (SELECT max("priceFen") FROM orders WHERE "seriesId" = ${seriesId}::uuid AND side = 'BUY' AND status IN ('OPEN','PARTIALLY_FILLED')) AS bid,
             (SELECT min("priceFen") FROM orders WHERE "seriesId" = ${seriesId}::uuid AND side = 'SELL' AND status IN ('OPEN','PARTIALLY_FILLED')) AS ask`;
    return row;
  }

  async previousPrice(db: Db, seriesId: string, businessDate: string): Promise<bigint | null> {
    const [row] = await db.$queryRaw<{ priceFen: bigint }[]>`
      SELECT "priceFen" FROM settlement_prices WHERE "seriesId" = ${seriesId}::uuid AND "businessDate" < ${businessDate}::date
      ORDER BY "businessDate" DESC LIMIT 1`;
    return row?.priceFen ?? null;
  }

  /** Checksum inputs and totals of everything a run posted, straight from the ledger. */
  runTransfers(db: Db, runId: string): Promise<{ key: string; debit: string; credit: string; amountFen: bigint }[]> {
    return db.$queryRaw`
      SELECT t."idempotencyKey" AS key, d.code AS debit, c.code AS credit, t."amountFen"
      FROM transfers t JOIN ledger_accounts d ON d.id = t."debitAccountId" JOIN ledger_accounts c ON c.id = t."creditAccountId"
      WHERE t."settlementRunId" = ${runId}::uuid`;
  }

  /** Members of these ids whose free cash is below zero after a run: each owes a margin call. */
  negativeCash(db: Db, memberIds: string[]): Promise<{ memberId: string; balanceFen: bigint }[]> {
    return db.$queryRaw`
      SELECT "memberId", "balanceFen" FROM ledger_accounts WHERE type = 'CASH' AND "memberId" = ANY(${memberIds}::uuid[]) AND "balanceFen" < 0`;
  }
}
