import { Injectable } from '@nestjs/common';
import type { BankStatement, BankStatementEntry, PaymentInstruction, Prisma, Transfer } from '../generated/prisma/client.js';
import type { Db, Tx } from '../platform/prisma/prisma.service.js';
import { dateColumn } from '../platform/time/business-date.js';

// Statement imports never overlap: two copies of one file could both book its entries.
const STATEMENT_LOCK = 727_276;

export type NamedInstruction = PaymentInstruction & { memberName: string };
export type Payee = { memberId: string; bankCode: string; accountNumber: string; holderName: string };

/** Payment instructions (what the bank is told to move) and bank statements (what it moved). */
@Injectable()
export class PaymentsRepository {
  /**
   * Net per member: approved withdrawals paid out that day minus margin calls issued that day and
   * still open.
   */
  netsFor(db: Db, businessDate: string): Promise<{ memberId: string; net: bigint }[]> {
    return db.$queryRaw<{ memberId: string; net: bigint }[]>`
      WITH pay AS (
        SELECT a."memberId", sum(t."amountFen")::bigint AS amount FROM transfers t JOIN ledger_accounts a ON a.id = t."debitAccountId"
        WHERE t.kind = 'WITHDRAWAL' AND t."businessDate" = ${businessDate}::date GROUP BY a."memberId"
      ), collect AS (
        SELECT "memberId", sum("amountFen")::bigint AS amount FROM margin_calls WHERE "businessDate" = ${businessDate}::date AND status = 'OPEN' GROUP BY "memberId"
      )
      SELECT COALESCE(p."memberId", c."memberId") AS "memberId", (COALESCE(p.amount, 0) - COALESCE(c.amount, 0))::bigint AS net
      FROM pay p FULL JOIN collect c ON c."memberId" = p."memberId"`;
  }

  /**
   * One statement for every member: new instructions are inserted, those the bank has not
   * confirmed yet follow the recomputed net, confirmed ones never change.
   */
  async upsertInstructions(db: Db, businessDate: string, due: { memberId: string; net: bigint; endToEndId: string }[]): Promise<void> {
    if (due.length === 0) return;
    await db.$executeRaw`
      INSERT INTO payment_instructions (id, "businessDate", "memberId", direction, "amountFen", "endToEndId", "updatedAt")
      SELECT gen_random_uuid(), ${businessDate}::date, m, CASE WHEN net > 0 THEN 'PAY'::"PaymentDirection" ELSE 'COLLECT'::"PaymentDirection" END, abs(net), e2e, now()
      FROM unnest(${due.map((n) => n.memberId)}::uuid[], ${due.map((n) => n.net)}::bigint[], ${due.map((n) => n.endToEndId)}::text[]) AS t(m, net, e2e)
      ON CONFLICT ("businessDate", "memberId") DO UPDATE SET direction = EXCLUDED.direction, "amountFen" = EXCLUDED."amountFen", "updatedAt" = now()
      WHERE payment_instructions.status = 'INSTRUCTED'`;
  }

  /**
   * A business date's instructions in member order, with the member's name; `afterMemberId` and
   * `take` page through them (a member has one instruction per date), without them: all of them.
   */
  async instructions(db: Db, businessDate: string, page?: { afterMemberId?: string; take: number }): Promise<NamedInstruction[]> {
    const rows = await db.paymentInstruction.findMany({
      where: {
        businessDate: dateColumn(businessDate),
        ...(page?.afterMemberId ? { memberId: { gt: page.afterMemberId } } : {}),
      },
      orderBy: { memberId: 'asc' },
      take: page?.take,
    });
    const members = await db.member.findMany({ where: { id: { in: rows.map((r) => r.memberId) } }, select: { id: true, name: true } });
    const names = new Map(members.map((m) => [m.id, m.name]));
    return rows.map((r) => ({ ...r, memberName: names.get(r.memberId) ?? r.memberId }));
  }

  statementByHash(db: Db, fileHash: string): Promise<BankStatement | null> {
    return db.bankStatement.findUnique({ where: { fileHash } });
  }

  /** Held until the transaction ends. */
  async lockStatements(tx: Tx): Promise<void> {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${STATEMENT_LOCK})`;
  }

  createStatement(
    db: Db,
    data: {
      fileHash: string;
      format: string;
      statementId: string;
      entries: number;
      uploadedBy?: string;
      openingFen?: bigint;
      closingFen?: bigint;
      computedClosingFen?: bigint;
    },
  ): Promise<BankStatement> {
    return db.bankStatement.create({ data: { ...data, matched: 0, breaks: 0 } });
  }

  finishStatement(db: Db, id: string, counts: { matched: number; breaks: number }): Promise<BankStatement> {
    return db.bankStatement.update({ where: { id }, data: counts });
  }

  /** Everything a file's entries can match, in three queries (not three per entry). */
  async counterparts(
    db: Db,
    bankRefs: string[],
    endToEndIds: string[],
  ): Promise<{ booked: string[]; instructions: PaymentInstruction[]; deposits: Transfer[] }> {
    const [booked, instructions, deposits] = await Promise.all([
      db.bankStatementEntry.findMany({ where: { bankRef: { in: bankRefs } }, select: { bankRef: true } }),
      db.paymentInstruction.findMany({ where: { endToEndId: { in: endToEndIds } } }),
      db.transfer.findMany({ where: { kind: 'DEPOSIT', reference: { in: endToEndIds } } }),
    ]);
    return { booked: booked.map((b) => b.bankRef), instructions, deposits };
  }

  async confirmInstructions(db: Db, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await db.paymentInstruction.updateMany({
      where: { id: { in: ids }, status: { in: ['INSTRUCTED', 'ACCEPTED'] } },
      data: { status: 'CONFIRMED', confirmedAt: new Date() },
    });
  }

  async createEntries(db: Db, entries: Prisma.BankStatementEntryCreateManyInput[]): Promise<void> {
    await db.bankStatementEntry.createMany({ data: entries });
  }

  /**
   * Who each member's payout goes to: the verified account its latest withdrawal paid out that
   * day recorded, else (withdrawals from before accounts were recorded) its latest verified one.
   */
  payees(db: Db, businessDate: string, memberIds: string[]): Promise<Payee[]> {
    if (memberIds.length === 0) return Promise.resolve([]);
    return db.$queryRaw<Payee[]>`
      WITH paid AS (
        SELECT DISTINCT ON (w."memberId") w."memberId", w."bankAccountId" AS id
        FROM transfers t JOIN withdrawals w ON w.id = t."withdrawalId"
        WHERE t.kind = 'WITHDRAWAL' AND t."businessDate" = ${businessDate}::date
          AND w."memberId" = ANY(${memberIds}::uuid[]) AND w."bankAccountId" IS NOT NULL
        ORDER BY w."memberId", t.seq DESC
      ), latest AS (
        SELECT DISTINCT ON ("memberId") "memberId", id FROM bank_accounts
        WHERE "memberId" = ANY(${memberIds}::uuid[]) AND status = 'VERIFIED'
        ORDER BY "memberId", "decidedAt" DESC, id DESC
      )
      SELECT m."memberId", b."bankCode", b."accountNumber", b."holderName"
      FROM unnest(${memberIds}::uuid[]) AS m("memberId")
      LEFT JOIN paid p ON p."memberId" = m."memberId"
      LEFT JOIN latest l ON l."memberId" = m."memberId"
      JOIN bank_accounts b ON b.id = COALESCE(p.id, l.id)`;
  }

  entries(db: Db, statementId: string): Promise<BankStatementEntry[]> {
    return db.bankStatementEntry.findMany({ where: { statementId }, orderBy: { position: 'asc' } });
  }
}
