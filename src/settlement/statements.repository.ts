import { Injectable } from '@nestjs/common';
import type { Member, Trade } from '../generated/prisma/client.js';
import type { Db } from '../platform/prisma/prisma.service.js';
import { dateColumn } from '../platform/time/business-date.js';

/** A member's position in one series as its trades up to a date add up. */
export interface TradedPosition {
  seriesId: string;
  long: bigint;
  short: bigint;
}

/** What a member's statement reads beyond the ledger and the series. */
@Injectable()
export class StatementsRepository {
  member(db: Db, id: string): Promise<Member | null> {
    return db.member.findUnique({ where: { id } });
  }

  /** The member's trades of one business date, either side, in matching order. */
  tradesOn(db: Db, memberId: string, businessDate: string): Promise<Trade[]> {
    return db.trade.findMany({
      where: { businessDate: dateColumn(businessDate), OR: [{ buyerId: memberId }, { sellerId: memberId }] },
      orderBy: { seq: 'asc' },
    });
  }

  /** Per series, what the member bought and sold up to and including the date. */
  positionsFromTrades(db: Db, memberId: string, businessDate: string): Promise<TradedPosition[]> {
    return db.$queryRaw<TradedPosition[]>`
      SELECT "seriesId", sum(CASE WHEN "buyerId" = ${memberId}::uuid THEN quantity ELSE 0 END)::bigint AS long,
             sum(CASE WHEN "sellerId" = ${memberId}::uuid THEN quantity ELSE 0 END)::bigint AS short
      FROM trades WHERE ("buyerId" = ${memberId}::uuid OR "sellerId" = ${memberId}::uuid) AND "businessDate" <= ${businessDate}::date
      GROUP BY "seriesId"`;
  }

  /** The member's guarantee-fund requirement now (0 when clearing set none). */
  async guaranteeRequirement(db: Db, memberId: string): Promise<bigint> {
    return (await db.guaranteeRequirement.findUnique({ where: { memberId } }))?.amountFen ?? 0n;
  }
}
