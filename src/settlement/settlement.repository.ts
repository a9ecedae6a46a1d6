import { Injectable } from '@nestjs/common';
import type { IndexFixing, SettlementPrice } from '../generated/prisma/client.js';
import type { PriceMethod } from '../generated/prisma/enums.js';
import type { Db } from '../platform/prisma/prisma.service.js';
import { dateColumn } from '../platform/time/business-date.js';

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

  /** Prices already stored for the date (fixed by clearing staff, or by an earlier attempt). */
  async storedPrices(
    db: Db,
    seriesIds: string[],
    businessDate: string,
  ): Promise<Map<string, { priceFen: bigint; method: PriceMethod; details: Record<string, string | number> }>> {
    const rows = await db.$queryRaw<
      { seriesId: string; priceFen: bigint; method: PriceMethod; details: Record<string, string | number> }[]
    >`
      SELECT "seriesId", "priceFen", method, details FROM settlement_prices WHERE "seriesId" = ANY(${seriesIds}::uuid[]) AND "businessDate" = ${businessDate}::date`;
    return new Map(rows.map((r) => [r.seriesId, { priceFen: r.priceFen, method: r.method, details: r.details }]));
  }

  /** Per series, the latest settlement price before the date. */
  async previousPrices(db: Db, seriesIds: string[], businessDate: string): Promise<Map<string, bigint>> {
    const rows = await db.$queryRaw<{ seriesId: string; priceFen: bigint }[]>`
      SELECT DISTINCT ON ("seriesId") "seriesId", "priceFen" FROM settlement_prices
      WHERE "seriesId" = ANY(${seriesIds}::uuid[]) AND "businessDate" < ${businessDate}::date
      ORDER BY "seriesId", "businessDate" DESC`;
    return new Map(rows.map((r) => [r.seriesId, r.priceFen]));
  }

  async previousPrice(db: Db, seriesId: string, businessDate: string): Promise<bigint | null> {
    return (await this.previousPrices(db, [seriesId], businessDate)).get(seriesId) ?? null;
  }

  /** Per series, Σ price × qty and Σ qty of the date's trades inside the VWAP window. */
  async windowVwaps(
    db: Db,
    seriesIds: string[],
    businessDate: string,
    from: Date,
    to: Date,
  ): Promise<Map<string, { notionalFen: bigint; quantity: bigint }>> {
    const rows = await db.$queryRaw<{ seriesId: string; notionalFen: bigint; quantity: bigint }[]>`
      SELECT "seriesId", sum("priceFen" * quantity)::bigint AS "notionalFen", sum(quantity)::bigint AS quantity FROM trades
      WHERE "seriesId" = ANY(${seriesIds}::uuid[]) AND "businessDate" = ${businessDate}::date AND "createdAt" >= ${from} AND "createdAt" < ${to}
      GROUP BY "seriesId"`;
    return new Map(rows.map((r) => [r.seriesId, { notionalFen: r.notionalFen, quantity: r.quantity }]));
  }

  async bestBidAsks(db: Db, seriesIds: string[]): Promise<Map<string, { bid: bigint | null; ask: bigint | null }>> {
    const rows = await db.$queryRaw<{ seriesId: string; bid: bigint | null; ask: bigint | null }[]>`
      SELECT "seriesId", max("priceFen") FILTER (WHERE side = 'BUY') AS bid, min("priceFen") FILTER (WHERE side = 'SELL') AS ask
      FROM orders WHERE "seriesId" = ANY(${seriesIds}::uuid[]) AND status IN ('OPEN', 'PARTIALLY_FILLED') GROUP BY "seriesId"`;
    return new Map(rows.map((r) => [r.seriesId, { bid: r.bid, ask: r.ask }]));
  }

  async insertPrices(
    db: Db,
    businessDate: string,
    rows: { seriesId: string; priceFen: bigint; method: PriceMethod; details: Record<string, string | number> }[],
  ): Promise<void> {
    if (rows.length === 0) return;
    await db.$executeRaw`
      INSERT INTO settlement_prices ("seriesId", "businessDate", "priceFen", method, details)
      SELECT s, ${businessDate}::date, p, m::"PriceMethod", d
      FROM unnest(${rows.map((r) => r.seriesId)}::uuid[], ${rows.map((r) => r.priceFen.toString())}::bigint[], ${rows.map((r) => r.method)}::text[], ${rows.map((r) => JSON.stringify(r.details))}::jsonb[]) AS x(s, p, m, d)
      ON CONFLICT ("seriesId", "businessDate") DO NOTHING`;
  }

  /** Checksum inputs and totals of everything a run posted, straight from the ledger. */
  runTransfers(db: Db, runId: string): Promise<{ key: string; debit: string; credit: string; amountFen: bigint }[]> {
    return db.$queryRaw`
      SELECT t."idempotencyKey" AS key, d.code AS debit, c.code AS credit, t."amountFen"
      FROM transfers t JOIN ledger_accounts d ON d.id = t."debitAccountId" JOIN ledger_accounts c ON c.id = t."creditAccountId"
      WHERE t."settlementRunId" = ${runId}::uuid`;
  }

  /** The price stored for a series and date, if any. */
  storedPrice(db: Db, seriesId: string, businessDate: string): Promise<SettlementPrice | null> {
    return db.settlementPrice.findUnique({ where: { seriesId_businessDate: { seriesId, businessDate: dateColumn(businessDate) } } });
  }

  /** The prices stored for these series on one date. */
  pricesOn(db: Db, seriesIds: string[], businessDate: string): Promise<SettlementPrice[]> {
    return db.settlementPrice.findMany({ where: { businessDate: dateColumn(businessDate), seriesId: { in: seriesIds } } });
  }

  /** Clearing staff's price for the date replaces any stored one. */
  async fixPrice(db: Db, seriesId: string, businessDate: string, priceFen: bigint): Promise<void> {
    const day = dateColumn(businessDate);
    await db.settlementPrice.upsert({
      where: { seriesId_businessDate: { seriesId, businessDate: day } },
      update: { priceFen, method: 'FIXED', details: { fixedBy: 'clearing' } },
      create: { seriesId, businessDate: day, priceFen, method: 'FIXED', details: { fixedBy: 'clearing' } },
    });
  }

  /** The index fixing recorded last for a series. */
  latestIndexFixing(db: Db, seriesId: string): Promise<IndexFixing | null> {
    return db.indexFixing.findFirst({ where: { seriesId }, orderBy: { createdAt: 'desc' } });
  }

  createIndexFixing(
    db: Db,
    data: { seriesId: string; priceFen: bigint; source: string; asOf: Date; createdBy: string },
  ): Promise<IndexFixing> {
    return db.indexFixing.create({ data });
  }
}
