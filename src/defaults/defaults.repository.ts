import { Injectable } from '@nestjs/common';
import type {
  DefaultBid,
  DefaultCloseOut,
  DefaultLot,
  DefaultWaterfallStep,
  Member,
  MemberDefault,
  Prisma,
} from '../generated/prisma/client.js';
import type { DefaultStatus } from '../generated/prisma/enums.js';
import type { Db, Tx } from '../platform/prisma/prisma.service.js';

/** A defaulter's net position in a series it may still trade, with what a lot needs. */
export interface NetPosition {
  seriesId: string;
  seriesCode: string;
  net: number;
  referencePriceFen: bigint;
  contractSizeTokens: bigint;
  tickFen: bigint;
}

export interface GuaranteeRow {
  memberId: string;
  requirementFen: bigint;
  contributionFen: bigint;
}

@Injectable()
export class DefaultsRepository {
  member(db: Db, id: string): Promise<Member | null> {
    return db.member.findUnique({ where: { id } });
  }

  async suspend(tx: Tx, memberId: string): Promise<void> {
    await tx.member.update({ where: { id: memberId }, data: { status: 'SUSPENDED' } });
  }

  async setRequirement(db: Db, memberId: string, amountFen: bigint, setBy: string | null): Promise<void> {
    await db.guaranteeRequirement.upsert({
      where: { memberId },
      create: { memberId, amountFen, setBy },
      update: { amountFen, setBy },
    });
  }

  /** A member's requirement and contribution (0 when none was set). */
  async guarantee(db: Db, memberId: string): Promise<GuaranteeRow> {
    const [row] = await db.$queryRaw<GuaranteeRow[]>`
      SELECT a."memberId", COALESCE(r."amountFen", 0)::bigint AS "requirementFen", a."balanceFen" AS "contributionFen"
      FROM ledger_accounts a LEFT JOIN guarantee_requirements r ON r."memberId" = a."memberId"
      WHERE a."memberId" = ${memberId}::uuid AND a.type = 'GUARANTEE'`;
    return row ?? { memberId, requirementFen: 0n, contributionFen: 0n };
  }

  /** Every other member's contribution and requirement: the waterfall's last layer. */
  survivors(db: Db, defaulterId: string): Promise<GuaranteeRow[]> {
    return db.$queryRaw<GuaranteeRow[]>`
      SELECT a."memberId", COALESCE(r."amountFen", 0)::bigint AS "requirementFen", a."balanceFen" AS "contributionFen"
      FROM ledger_accounts a LEFT JOIN guarantee_requirements r ON r."memberId" = a."memberId"
      WHERE a.type = 'GUARANTEE' AND a."memberId" <> ${defaulterId}::uuid AND (a."balanceFen" > 0 OR r."amountFen" > 0)
      ORDER BY a."memberId"`;
  }

  /** Balances by account code (locked: the waterfall reads what it is about to move). */
  async balances(tx: Tx, codes: string[]): Promise<Map<string, bigint>> {
    const rows = await tx.$queryRaw<{ code: string; balanceFen: bigint }[]>`
      SELECT code, "balanceFen" FROM ledger_accounts WHERE code = ANY(${codes}::text[]) ORDER BY id FOR UPDATE`;
    return new Map(rows.map((r) => [r.code, r.balanceFen]));
  }

  create(db: Db, data: Prisma.MemberDefaultUncheckedCreateInput): Promise<MemberDefault> {
    return db.memberDefault.create({ data });
  }

  find(db: Db, id: string): Promise<MemberDefault | null> {
    return db.memberDefault.findUnique({ where: { id } });
  }

  /** Row lock: one decision (approval, close) at a time. */
  async lock(tx: Tx, id: string): Promise<MemberDefault | null> {
    const rows = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM member_defaults WHERE id = ${id}::uuid FOR UPDATE`;
    return rows.length === 0 ? null : tx.memberDefault.findUnique({ where: { id } });
  }

  /** Serialises proposals for one member (advisory lock on its id). */
  async lockMember(tx: Tx, memberId: string): Promise<void> {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('default:' || ${memberId}))`;
  }

  openOf(db: Db, memberId: string): Promise<MemberDefault | null> {
    return db.memberDefault.findFirst({ where: { memberId, status: { in: ['PROPOSED', 'AUCTION'] } } });
  }

  update(db: Db, id: string, data: Prisma.MemberDefaultUncheckedUpdateInput): Promise<MemberDefault> {
    return db.memberDefault.update({ where: { id }, data });
  }

  /** Newest first, after (createdAt, id): limit + 1 rows. */
  page(
    db: Db,
    q: { status?: DefaultStatus; declaredOnly?: boolean; after?: { createdAt: Date; id: string }; limit: number },
  ): Promise<MemberDefault[]> {
    const after: Prisma.MemberDefaultWhereInput = q.after
      ? { OR: [{ createdAt: { lt: q.after.createdAt } }, { createdAt: q.after.createdAt, id: { lt: q.after.id } }] }
      : {};
    return db.memberDefault.findMany({
      where: { status: q.status ?? (q.declaredOnly ? { in: ['AUCTION', 'COMPLETED'] } : undefined), ...after },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: q.limit + 1,
    });
  }

  /** The member's non-zero net positions in series still open for trading. */
  netPositions(db: Db, memberId: string): Promise<NetPosition[]> {
    return db.$queryRaw<NetPosition[]>`
      SELECT s.id AS "seriesId", s.code AS "seriesCode", (p."longQty" - p."shortQty")::int AS net,
             COALESCE(s."lastSettlementPriceFen", s."referencePriceFen") AS "referencePriceFen",
             pr."contractSizeTokens", pr."tickFen"
      FROM positions p JOIN series s ON s.id = p."seriesId" JOIN products pr ON pr.id = s."productId"
      WHERE p."memberId" = ${memberId}::uuid AND p."longQty" <> p."shortQty" AND s.status IN ('LISTED', 'TRADING')
      ORDER BY s.code`;
  }

  /** Members holding the side opposite a lot (net long when the defaulter is short), with their net. */
  async oppositeHolders(
    db: Db,
    seriesId: string,
    defaulterSide: 'LONG' | 'SHORT',
    defaulterId: string,
  ): Promise<{ memberId: string; quantity: number }[]> {
    const sign = defaulterSide === 'SHORT' ? 1 : -1;
    return db.$queryRaw<{ memberId: string; quantity: number }[]>`
      SELECT "memberId", (${sign}::int * ("longQty" - "shortQty"))::int AS quantity
      FROM positions WHERE "seriesId" = ${seriesId}::uuid AND "memberId" <> ${defaulterId}::uuid
        AND ${sign}::int * ("longQty" - "shortQty") > 0
      ORDER BY "memberId"`;
  }

  async createLots(tx: Tx, lots: Prisma.DefaultLotCreateManyInput[]): Promise<void> {
    if (lots.length > 0) await tx.defaultLot.createMany({ data: lots });
  }

  lots(db: Db, defaultId: string): Promise<(DefaultLot & { seriesCode: string })[]> {
    return db.$queryRaw<(DefaultLot & { seriesCode: string })[]>`
      SELECT l.*, s.code AS "seriesCode" FROM default_lots l JOIN series s ON s.id = l."seriesId"
      WHERE l."defaultId" = ${defaultId}::uuid ORDER BY s.code`;
  }

  async updateLot(tx: Tx, id: string, data: { soldQuantity: number; tornUpQuantity: number; lossFen: bigint }): Promise<void> {
    await tx.defaultLot.update({ where: { id }, data });
  }

  createBid(db: Db, data: Prisma.DefaultBidUncheckedCreateInput): Promise<DefaultBid> {
    return db.defaultBid.create({ data });
  }

  findBid(db: Db, id: string): Promise<DefaultBid | null> {
    return db.defaultBid.findUnique({ where: { id } });
  }

  bids(db: Db, defaultId: string, bidderId?: string): Promise<DefaultBid[]> {
    return db.defaultBid.findMany({ where: { defaultId, bidderId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  }

  async awardBid(tx: Tx, id: string, awardedQuantity: number): Promise<void> {
    await tx.defaultBid.update({ where: { id }, data: { awardedQuantity } });
  }

  async insertCloseOuts(tx: Tx, rows: Prisma.DefaultCloseOutCreateManyInput[]): Promise<void> {
    if (rows.length > 0) await tx.defaultCloseOut.createMany({ data: rows });
  }

  closeOuts(db: Db, defaultId: string): Promise<DefaultCloseOut[]> {
    return db.defaultCloseOut.findMany({ where: { defaultId }, orderBy: [{ lotId: 'asc' }, { kind: 'asc' }, { memberId: 'asc' }] });
  }

  async insertSteps(tx: Tx, rows: Prisma.DefaultWaterfallStepCreateManyInput[]): Promise<void> {
    if (rows.length > 0) await tx.defaultWaterfallStep.createMany({ data: rows });
  }

  steps(db: Db, defaultId: string): Promise<DefaultWaterfallStep[]> {
    return db.defaultWaterfallStep.findMany({ where: { defaultId }, orderBy: { seq: 'asc' } });
  }

  /** ACTIVE members with an open margin call past its due time and no open default. */
  async overdueMembers(db: Db, now: Date): Promise<{ memberId: string; callId: string }[]> {
    return db.$queryRaw<{ memberId: string; callId: string }[]>`
      SELECT DISTINCT ON (mc."memberId") mc."memberId", mc.id AS "callId"
      FROM margin_calls mc JOIN members m ON m.id = mc."memberId"
      WHERE mc.status = 'OPEN' AND mc."dueAt" < ${now} AND m.status = 'ACTIVE'
        AND NOT EXISTS (SELECT 1 FROM member_defaults d WHERE d."memberId" = mc."memberId" AND d.status IN ('PROPOSED', 'AUCTION'))
      ORDER BY mc."memberId", mc."dueAt"`;
  }
}
