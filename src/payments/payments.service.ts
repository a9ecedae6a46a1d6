import { Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { BankStatement, PaymentInstruction } from '../generated/prisma/client.js';
import type { BankEntryStatus } from '../generated/prisma/enums.js';
import { CashService } from '../ledger/cash.service.js';
import { LedgerEvents } from '../ledger/ledger.events.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { formatFen } from '../platform/money/money.js';
import { PrismaService, type Tx } from '../platform/prisma/prisma.service.js';
import { dateColumn, isoDate } from '../platform/time/business-date.js';
import { ReconciliationService } from '../reconciliation/reconciliation.service.js';
import { parseCamt053, parseStatementCsv, type StatementEntry } from './domain/camt053.js';
import { renderPain001 } from './domain/pain001.js';

export const CCP_NAME = 'TokenClear CCP';

/** End-to-end id of a member's net payment for a date: ≤ 35 characters, stable across exports. */
export function endToEndId(businessDate: string, memberId: string): string {
  return `TC${businessDate.replace(/-/g, '')}${memberId.replace(/-/g, '').slice(0, 24).toUpperCase()}`;
}

/**
 * The bank side of clearing: what each member is paid or owes per business date (exported as
 * pain.001 for the settlement bank), and the bank's statement (camt.053) matched back against
 * those instructions and against deposits.
 */
@Injectable()
export class PaymentsService {
  private readonly logger = new Logger(PaymentsService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly cash: CashService,
    private readonly recon: ReconciliationService,
    private readonly events: LedgerEvents,
  ) {}

  /**
   * Net per member: approved withdrawals paid out that day minus margin calls issued that day and
   * still open. Recomputed on each export; an instruction the bank has confirmed is never changed.
   */
  async instructions(businessDate: string): Promise<(PaymentInstruction & { memberName: string })[]> {
    const nets = await this.prisma.$queryRaw<{ memberId: string; net: bigint }[]>`
      WITH pay AS (
        SELECT a."memberId", sum(t."amountFen")::bigint AS amount FROM transfers t JOIN ledger_accounts a ON a.id = t."debitAccountId"
        WHERE t.kind = 'WITHDRAWAL' AND t."businessDate" = ${businessDate}::date GROUP BY a."memberId"
      ), collect AS (
        SELECT "memberId", sum("amountFen")::bigint AS amount FROM margin_calls WHERE "businessDate" = ${businessDate}::date AND status = 'OPEN' GROUP BY "memberId"
      )
      SELECT COALESCE(p."memberId", c."memberId") AS "memberId", (COALESCE(p.amount, 0) - COALESCE(c.amount, 0))::bigint AS net
      FROM pay p FULL JOIN collect c ON c."memberId" = p."memberId"`;
    // One statement for every member: new instructions are inserted, those the bank has not
    // confirmed yet follow the recomputed net, confirmed ones never change.
    const due = nets.filter((n) => n.net !== 0n);
    if (due.length > 0) {
      await this.prisma.$executeRaw`
        INSERT INTO payment_instructions (id, "businessDate", "memberId", direction, "amountFen", "endToEndId", "updatedAt")
        SELECT gen_random_uuid(), ${businessDate}::date, m, CASE WHEN net > 0 THEN 'PAY'::"PaymentDirection" ELSE 'COLLECT'::"PaymentDirection" END, abs(net), e2e, now()
        FROM unnest(${due.map((n) => n.memberId)}::uuid[], ${due.map((n) => n.net)}::bigint[], ${due.map((n) => endToEndId(businessDate, n.memberId))}::text[]) AS t(m, net, e2e)
        ON CONFLICT ("businessDate", "memberId") DO UPDATE SET direction = EXCLUDED.direction, "amountFen" = EXCLUDED."amountFen", "updatedAt" = now()
        WHERE payment_instructions.status = 'INSTRUCTED'`;
    }
    const rows = await this.prisma.paymentInstruction.findMany({
      where: { businessDate: dateColumn(businessDate) },
      orderBy: { memberId: 'asc' },
    });
    const names = new Map(
      (await this.prisma.member.findMany({ where: { id: { in: rows.map((r) => r.memberId) } }, select: { id: true, name: true } })).map(
        (m) => [m.id, m.name],
      ),
    );
    return rows.map((r) => ({ ...r, memberName: names.get(r.memberId) ?? r.memberId }));
  }

  async pain001(businessDate: string, now: Date): Promise<string> {
    const pay = (await this.instructions(businessDate)).filter((i) => i.direction === 'PAY');
    if (pay.length === 0) throw new DomainError('NO_PAYMENTS', `nothing to pay out for ${businessDate}`);
    return renderPain001({
      messageId: `TC-PAY-${businessDate.replace(/-/g, '')}`,
      createdAt: now,
      executionDate: businessDate,
      debtorName: CCP_NAME,
      debtorAccount: 'bank:settlement',
      transfers: pay.map((i) => ({
        endToEndId: i.endToEndId,
        amountFen: i.amountFen,
        creditorName: i.memberName,
        creditorAccount: i.memberId,
      })),
    });
  }

  async csv(businessDate: string): Promise<string> {
    const rows = await this.instructions(businessDate);
    const escape = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    return (
      [
        'businessDate,memberId,memberName,direction,amount,currency,endToEndId,status',
        ...rows.map((r) =>
          [businessDate, r.memberId, escape(r.memberName), r.direction, formatFen(r.amountFen), 'CNY', r.endToEndId, r.status].join(','),
        ),
      ].join('\n') + '\n'
    );
  }

  /**
   * Imports a statement atomically (parsed and validated in full first). Debits match PAY
   * instructions; credits match COLLECT instructions (posted as the member's deposit) or deposits
   * already recorded under that reference. The rest — unknown, wrong amount, an entry seen before —
   * becomes a break through a reconciliation run. The same file again is the same import.
   */
  async importStatement(
    content: string,
    format: 'camt053' | 'csv',
    uploadedBy?: string,
  ): Promise<{ statement: BankStatement; replayed: boolean }> {
    const parsed = format === 'csv' ? parseStatementCsv(content) : parseCamt053(content);
    const fileHash = createHash('sha256').update(content).digest('hex');
    const seen = await this.prisma.bankStatement.findUnique({ where: { fileHash } });
    if (seen) return { statement: seen, replayed: true };
    const deposits: { memberId: string; amountFen: bigint }[] = [];
    const statement = await this.prisma.$transaction(
      async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(727276)`;
        const again = await tx.bankStatement.findUnique({ where: { fileHash } });
        if (again) return again;
        const created = await tx.bankStatement.create({
          data: { fileHash, format, statementId: parsed.statementId, entries: parsed.entries.length, matched: 0, breaks: 0, uploadedBy },
        });
        const known = await this.counterparts(tx, parsed.entries);
        const decided = parsed.entries.map((e) => {
          const d = this.match(e, known);
          known.bankRefs.add(e.bankRef);
          return d;
        });
        // The writes the decisions call for, each set in one statement: confirmations, then collections.
        const confirm = decided.flatMap((d) => (d.confirm ? [d.confirm] : []));
        if (confirm.length > 0)
          await tx.paymentInstruction.updateMany({
            where: { id: { in: confirm } },
            data: { status: 'CONFIRMED', confirmedAt: new Date() },
          });
        const collected = decided.filter((d) => d.collect);
        const posted = await this.cash.depositsIn(
          tx,
          collected.map((d) => d.collect!),
        );
        collected.forEach((d, i) => (d.outcome.matchedId = posted[i].id));
        deposits.push(...collected.map((d) => ({ memberId: d.collect!.memberId, amountFen: d.collect!.amountFen })));
        const outcomes = decided.map((d) => d.outcome);
        await tx.bankStatementEntry.createMany({
          data: parsed.entries.map((e, i) => ({
            statementId: created.id,
            position: i + 1,
            bankRef: e.bankRef,
            endToEndId: e.endToEndId,
            direction: e.direction,
            amountFen: e.amountFen,
            bookingDate: dateColumn(e.bookingDate),
            ...outcomes[i],
          })),
        });
        const matched = outcomes.filter((o) => o.status === 'MATCHED' || o.status === 'POSTED').length;
        return tx.bankStatement.update({ where: { id: created.id }, data: { matched, breaks: parsed.entries.length - matched } });
      },
      { timeout: 120_000 },
    );
    for (const d of deposits) this.events.deposited.next(d);
    await this.recon.run('BANK_STATEMENT', uploadedBy);
    this.logger.log(
      { statement: statement.statementId, entries: statement.entries, matched: statement.matched },
      'bank statement imported',
    );
    return { statement, replayed: false };
  }

  async entries(statementId: string) {
    const rows = await this.prisma.bankStatementEntry.findMany({ where: { statementId }, orderBy: { position: 'asc' } });
    return rows.map((e) => ({
      bankRef: e.bankRef,
      endToEndId: e.endToEndId,
      direction: e.direction,
      amount: formatFen(e.amountFen),
      currency: 'CNY',
      bookingDate: isoDate(e.bookingDate),
      status: e.status,
      matchedType: e.matchedType,
      matchedId: e.matchedId,
      detail: e.detail,
    }));
  }

  /** Everything the file's entries can match, in three queries (not three per entry). */
  private async counterparts(tx: Tx, entries: StatementEntry[]) {
    const refs = entries.map((e) => e.bankRef);
    const ids = entries.map((e) => e.endToEndId).filter((x): x is string => x !== null);
    const [booked, instructions, deposits] = await Promise.all([
      tx.bankStatementEntry.findMany({ where: { bankRef: { in: refs } }, select: { bankRef: true } }),
      tx.paymentInstruction.findMany({ where: { endToEndId: { in: ids } } }),
      tx.transfer.findMany({ where: { kind: 'DEPOSIT', reference: { in: ids } } }),
    ]);
    return {
      bankRefs: new Set(booked.map((b) => b.bankRef)),
      instructions: new Map(instructions.map((i) => [i.endToEndId, i])),
      deposits: new Map(deposits.map((d) => [d.reference!, d])),
    };
  }

  /**
   * What one entry is, from what the file's entries can match (no query): the outcome to record,
   * and the instruction to confirm or the collection to post, if any.
   */
  private match(
    e: StatementEntry,
    known: Awaited<ReturnType<PaymentsService['counterparts']>>,
  ): {
    outcome: { status: BankEntryStatus; matchedType?: string; matchedId?: string; detail?: string };
    confirm?: string;
    collect?: { memberId: string; amountFen: bigint; reference: string };
  } {
    if (known.bankRefs.has(e.bankRef))
      return { outcome: { status: 'DUPLICATE', detail: `bank reference ${e.bankRef} was already booked` } };
    if (!e.endToEndId) return { outcome: { status: 'UNMATCHED', detail: 'no end-to-end id' } };
    const instruction = known.instructions.get(e.endToEndId);
    if (instruction?.status === 'CONFIRMED')
      return {
        outcome: {
          status: 'DUPLICATE',
          matchedType: 'PAYMENT_INSTRUCTION',
          matchedId: instruction.id,
          detail: `instruction ${e.endToEndId} was already confirmed`,
        },
      };
    if (instruction) {
      const expected = instruction.direction === 'PAY' ? 'DBIT' : 'CRDT';
      if (e.direction !== expected || e.amountFen !== instruction.amountFen) {
        return {
          outcome: {
            status: 'MISMATCH',
            matchedType: 'PAYMENT_INSTRUCTION',
            matchedId: instruction.id,
            detail: `instructed ${expected} ${formatFen(instruction.amountFen)}, booked ${e.direction} ${formatFen(e.amountFen)}`,
          },
        };
      }
      instruction.status = 'CONFIRMED'; // a second entry for it in this file is a duplicate
      if (instruction.direction === 'COLLECT') {
        // matchedId: the deposit's transfer, filled in once the collections are posted.
        return {
          outcome: { status: 'POSTED', matchedType: 'DEPOSIT', detail: `collection for ${isoDate(instruction.businessDate)}` },
          confirm: instruction.id,
          collect: { memberId: instruction.memberId, amountFen: e.amountFen, reference: e.endToEndId },
        };
      }
      return { outcome: { status: 'MATCHED', matchedType: 'PAYMENT_INSTRUCTION', matchedId: instruction.id }, confirm: instruction.id };
    }
    if (e.direction === 'CRDT') {
      const deposit = known.deposits.get(e.endToEndId);
      if (deposit) {
        if (deposit.amountFen !== e.amountFen)
          return {
            outcome: {
              status: 'MISMATCH',
              matchedType: 'DEPOSIT',
              matchedId: deposit.id,
              detail: `deposit recorded ${formatFen(deposit.amountFen)}, booked ${formatFen(e.amountFen)}`,
            },
          };
        return { outcome: { status: 'MATCHED', matchedType: 'DEPOSIT', matchedId: deposit.id } };
      }
    }
    return { outcome: { status: 'UNMATCHED', detail: `no instruction or deposit with end-to-end id ${e.endToEndId}` } };
  }
}
