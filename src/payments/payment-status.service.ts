import { Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { PaymentInstruction, PaymentStatusReport, Prisma } from '../generated/prisma/client.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { HOUSE, memberAccount } from '../ledger/ledger.types.js';
import { formatFen } from '../platform/money/money.js';
import type { Tx } from '../platform/prisma/prisma.service.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { Clock } from '../platform/time/clock.js';
import { isoDate } from '../platform/time/business-date.js';
import { ReconciliationService } from '../reconciliation/reconciliation.service.js';
import { parsePain002, type TransactionStatus } from './domain/pain002.js';
import { PaymentStatusRepository } from './payment-status.repository.js';

// ACSC: settled on the creditor's account; ACCP: accepted for execution. Either is the bank's word it
// pays: the instruction becomes ACCEPTED — not CONFIRMED, which means booked on a statement, so the
// statement's debit still matches it rather than reading as a duplicate.
const CONFIRMING = new Set(['ACSC', 'ACCP']);

type Entry = Omit<Prisma.PaymentStatusEntryCreateManyInput, 'reportId' | 'position'>;

function reasonOf(t: TransactionStatus): { code: string | null; info: string | null } {
  const r = t.reasons[0];
  if (!r) return { code: null, info: null };
  return { code: r.code ?? r.proprietary, info: r.additionalInfo.join(' ').slice(0, 500) || null };
}

/**
 * The bank's pain.002 answer to our pain.001. A rejected payment returns its withdrawals: the cash
 * comes back to the member by a new WITHDRAWAL_RETURN transfer (keyed by the instruction, so a
 * second report cannot return it twice), the withdrawals become REJECTED, and the reconciliation
 * run that follows opens a PAYMENT_REJECTED break with the bank's reason. Accepted payments mark
 * their instruction ACCEPTED; an end-to-end id we never sent, or a status contradicting what we know, is a
 * PAYMENT_STATUS break. The same file again is the same import.
 */
@Injectable()
export class PaymentStatusService {
  private readonly logger = new Logger(PaymentStatusService.name);

  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: PaymentStatusRepository,
    private readonly ledger: LedgerService,
    private readonly recon: ReconciliationService,
    private readonly clock: Clock,
  ) {}

  async import(xml: string, uploadedBy?: string): Promise<{ report: PaymentStatusReport; replayed: boolean }> {
    const parsed = parsePain002(xml);
    const fileHash = createHash('sha256').update(xml).digest('hex');
    const seen = await this.repo.reportByHash(this.tx.root, fileHash);
    if (seen) return { report: seen, replayed: true };
    const report = await this.tx.run(
      async (tx) => {
        await this.repo.lock(tx);
        const again = await this.repo.reportByHash(tx, fileHash);
        if (again) return again;
        const created = await this.repo.createReport(tx, {
          fileHash,
          messageId: parsed.messageId,
          originalMessageId: parsed.originalMessageId,
          transactions: parsed.transactions.length,
          uploadedBy,
        });
        const found = await this.repo.instructionsForUpdate(
          tx,
          parsed.transactions.map((t) => t.originalEndToEndId),
        );
        const byE2e = new Map(found.map((i) => [i.endToEndId, i]));
        const entries: Entry[] = [];
        const accepted: string[] = [];
        for (const t of parsed.transactions) {
          const { code, info } = reasonOf(t);
          const base = { endToEndId: t.originalEndToEndId, status: t.status, reasonCode: code, reasonInfo: info };
          const i = byE2e.get(t.originalEndToEndId);
          if (!i) {
            entries.push({ ...base, outcome: 'UNKNOWN', detail: `no payment instruction with end-to-end id ${t.originalEndToEndId}` });
            continue;
          }
          const about = { instructionId: i.id, memberId: i.memberId, amountFen: i.amountFen };
          if (i.direction !== 'PAY') {
            entries.push({ ...base, ...about, outcome: 'CONFLICT', detail: 'a collection is not in any payment file we send' });
          } else if (t.status === 'RJCT') {
            if (i.status === 'REJECTED') entries.push({ ...base, ...about, outcome: 'DUPLICATE', detail: 'already returned' });
            else if (i.status === 'CONFIRMED')
              entries.push({ ...base, ...about, outcome: 'CONFLICT', detail: 'rejected after the bank confirmed the payment' });
            else entries.push({ ...base, ...about, ...(await this.returnPayment(tx, i, code, info)) });
          } else if (t.status && CONFIRMING.has(t.status)) {
            if (i.status === 'REJECTED')
              entries.push({ ...base, ...about, outcome: 'CONFLICT', detail: 'accepted after the bank rejected the payment' });
            else {
              if (i.status === 'INSTRUCTED') accepted.push(i.id);
              if (i.status === 'INSTRUCTED') i.status = 'ACCEPTED';
              entries.push({ ...base, ...about, outcome: 'CONFIRMED' });
            }
          } else entries.push({ ...base, ...about, outcome: 'NOTED', detail: `status ${t.status ?? 'none'}: nothing to do yet` });
        }
        await this.repo.setInstructionStatus(tx, accepted, 'ACCEPTED');
        await this.repo.createEntries(
          tx,
          entries.map((e, k) => ({ ...e, reportId: created.id, position: k + 1 })),
        );
        return created;
      },
      { timeout: 120_000 },
    );
    await this.recon.run('BANK_STATEMENT', uploadedBy);
    this.logger.log({ report: report.messageId, transactions: report.transactions }, 'payment status report imported');
    return { report, replayed: false };
  }

  /** RJCT of an instruction still open: its amount back to the member's cash, its withdrawals REJECTED. */
  private async returnPayment(
    tx: Tx,
    i: PaymentInstruction,
    code: string | null,
    info: string | null,
  ): Promise<Pick<Entry, 'outcome' | 'transferId' | 'detail'>> {
    const [transfer] = await this.ledger.post(tx, [
      {
        idempotencyKey: `payment-return.${i.id}`,
        debit: HOUSE.bankSettlement,
        credit: memberAccount(i.memberId, 'CASH'),
        amountFen: i.amountFen,
        kind: 'WITHDRAWAL_RETURN',
        businessDate: this.clock.businessDate(),
        reference: i.endToEndId,
      },
    ]);
    await this.repo.setInstructionStatus(tx, [i.id], 'REJECTED');
    const withdrawals = await this.repo.rejectPaidWithdrawals(
      tx,
      { memberId: i.memberId, businessDate: isoDate(i.businessDate) },
      `rejected by the bank${code ? ` (${code})` : ''}${info ? `: ${info}` : ''}`,
    );
    i.status = 'REJECTED';
    return {
      outcome: 'RETURNED',
      transferId: transfer.id,
      detail: `${formatFen(i.amountFen)} returned to cash; ${withdrawals.length} withdrawal(s) rejected`,
    };
  }

  async entries(reportId: string) {
    const rows = await this.repo.entries(this.tx.root, reportId);
    return rows.map((e) => ({
      endToEndId: e.endToEndId,
      status: e.status,
      reasonCode: e.reasonCode,
      reasonInfo: e.reasonInfo,
      outcome: e.outcome,
      instructionId: e.instructionId,
      memberId: e.memberId,
      amount: e.amountFen === null ? null : formatFen(e.amountFen),
      transferId: e.transferId,
      detail: e.detail,
    }));
  }
}
