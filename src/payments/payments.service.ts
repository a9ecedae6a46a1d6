import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import type { BankStatement } from '../generated/prisma/client.js';
import { CashService } from '../ledger/cash.service.js';
import { LedgerEvents } from '../ledger/ledger.events.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { formatFen } from '../platform/money/money.js';
import { decodeCursor, toPage, type Page } from '../platform/pagination/page.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { dateColumn, isoDate } from '../platform/time/business-date.js';
import { ReconciliationService } from '../reconciliation/reconciliation.service.js';
import { parseCamt053, parseStatementCsv } from './domain/camt053.js';
import { renderPain001 } from './domain/pain001.js';
import { counterparts, matchEntry } from './domain/statement-matching.js';
import { PaymentsRepository, type NamedInstruction } from './payments.repository.js';

/** End-to-end id of a member's net payment for a date: ≤ 35 characters, stable across exports. */
export function endToEndId(businessDate: string, memberId: string): string {
  return `TC${businessDate.replace(/-/g, '')}${memberId.replace(/-/g, '').slice(0, 24).toUpperCase()}`;
}

/**
 * A MsgId no export has used (a bank refuses a file whose MsgId it has seen): the date, the time
 * in base 36 and 40 random bits — 29 characters, within Max35Text.
 */
export function paymentMessageId(businessDate: string, now: Date): string {
  const stamp = now.getTime().toString(36).toUpperCase().padStart(9, '0');
  return `TC-${businessDate.replace(/-/g, '')}-${stamp}-${randomBytes(5).toString('hex').toUpperCase().slice(0, 8)}`;
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
    private readonly tx: TransactionRunner,
    private readonly repo: PaymentsRepository,
    private readonly cash: CashService,
    private readonly recon: ReconciliationService,
    private readonly events: LedgerEvents,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Net per member: approved withdrawals paid out that day minus margin calls issued that day and
   * still open. Recomputed on each export; an instruction the bank has confirmed is never changed.
   */
  async instructions(businessDate: string): Promise<NamedInstruction[]> {
    await this.recompute(businessDate);
    return this.repo.instructions(this.tx.root, businessDate);
  }

  /** The same, a page at a time in member order (recomputed on each page, as on each export). */
  async instructionsPage(businessDate: string, q: { limit?: number; cursor?: string }): Promise<Page<NamedInstruction>> {
    const limit = q.limit ?? 50;
    const afterMemberId = decodeCursor(q.cursor, /^[0-9a-f-]{36}$/);
    await this.recompute(businessDate);
    const rows = await this.repo.instructions(this.tx.root, businessDate, { afterMemberId, take: limit + 1 });
    return toPage(
      rows,
      limit,
      (r) => r.memberId,
      (r) => r,
    );
  }

  private async recompute(businessDate: string): Promise<void> {
    const nets = await this.repo.netsFor(this.tx.root, businessDate);
    const due = nets.filter((n) => n.net !== 0n).map((n) => ({ ...n, endToEndId: endToEndId(businessDate, n.memberId) }));
    await this.repo.upsertInstructions(this.tx.root, businessDate, due);
  }

  /** From the CCP's account to each member's verified account; a fresh MsgId, the instructions' own EndToEndIds. */
  async pain001(businessDate: string, now: Date): Promise<string> {
    const pay = (await this.instructions(businessDate)).filter((i) => i.direction === 'PAY' && i.status !== 'REJECTED');
    if (pay.length === 0) throw new DomainError('NO_PAYMENTS', `nothing to pay out for ${businessDate}`);
    const payees = new Map(
      (
        await this.repo.payees(
          this.tx.root,
          businessDate,
          pay.map((i) => i.memberId),
        )
      ).map((p) => [p.memberId, p]),
    );
    const missing = pay.filter((i) => !payees.has(i.memberId));
    if (missing.length > 0)
      throw new DomainError(
        'NO_VERIFIED_BANK_ACCOUNT',
        `no verified bank account to pay ${missing.map((i) => `${i.memberName} (${i.memberId})`).join(', ')}`,
      );
    const ccp = this.config.ccpBank;
    return renderPain001({
      messageId: paymentMessageId(businessDate, now),
      createdAt: now,
      executionDate: businessDate,
      debtorName: ccp.name,
      debtorAccount: ccp.accountNumber,
      debtorAgentCnaps: ccp.bankCode,
      transfers: pay.map((i) => {
        const payee = payees.get(i.memberId)!;
        return {
          endToEndId: i.endToEndId,
          amountFen: i.amountFen,
          creditorName: payee.holderName,
          creditorAccount: payee.accountNumber,
          creditorAgentCnaps: payee.bankCode,
        };
      }),
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
    const seen = await this.repo.statementByHash(this.tx.root, fileHash);
    if (seen) return { statement: seen, replayed: true };
    const deposits: { memberId: string; amountFen: bigint }[] = [];
    const statement = await this.tx.run(
      async (tx) => {
        await this.repo.lockStatements(tx);
        const again = await this.repo.statementByHash(tx, fileHash);
        if (again) return again;
        const created = await this.repo.createStatement(tx, {
          fileHash,
          format,
          statementId: parsed.statementId,
          entries: parsed.entries.length,
          uploadedBy,
          openingFen: parsed.balances?.openingFen,
          closingFen: parsed.balances?.closingFen,
          computedClosingFen: parsed.balances?.computedClosingFen,
        });
        const found = await this.repo.counterparts(
          tx,
          parsed.entries.map((e) => e.bankRef),
          parsed.entries.map((e) => e.endToEndId).filter((x): x is string => x !== null),
        );
        const known = counterparts(found.booked, found.instructions, found.deposits);
        const decided = parsed.entries.map((e) => matchEntry(e, known));
        // The writes the decisions call for, each set in one statement: confirmations, then collections.
        await this.repo.confirmInstructions(
          tx,
          decided.flatMap((d) => (d.confirm ? [d.confirm] : [])),
        );
        const collected = decided.filter((d) => d.collect);
        const posted = await this.cash.depositsIn(
          tx,
          collected.map((d) => d.collect!),
        );
        collected.forEach((d, i) => (d.outcome.matchedId = posted[i].id));
        deposits.push(...collected.map((d) => ({ memberId: d.collect!.memberId, amountFen: d.collect!.amountFen })));
        const outcomes = decided.map((d) => d.outcome);
        await this.repo.createEntries(
          tx,
          parsed.entries.map((e, i) => ({
            statementId: created.id,
            position: i + 1,
            bankRef: e.bankRef,
            endToEndId: e.endToEndId,
            direction: e.direction,
            amountFen: e.amountFen,
            bookingDate: dateColumn(e.bookingDate),
            ...outcomes[i],
          })),
        );
        const matched = outcomes.filter((o) => o.status === 'MATCHED' || o.status === 'POSTED').length;
        return this.repo.finishStatement(tx, created.id, { matched, breaks: parsed.entries.length - matched });
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
    const rows = await this.repo.entries(this.tx.root, statementId);
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
}
