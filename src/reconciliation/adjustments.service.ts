import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { Adjustment } from '../generated/prisma/client.js';
import { LedgerRepository } from '../ledger/ledger.repository.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { assertSecondPerson } from '../staff/four-eyes.js';
import { StaffRepository } from '../staff/staff.repository.js';
import { DomainError } from '../platform/errors/error-codes.js';
import type { Principal } from '../platform/http/request-context.js';
import { formatFen } from '../platform/money/money.js';
import { decodeCursor, toPage, type Page } from '../platform/pagination/page.js';
import type { Tx } from '../platform/prisma/prisma.service.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { Clock } from '../platform/time/clock.js';
import { AdjustmentsRepository, type AdjustmentStatus } from './adjustments.repository.js';
import { ReconciliationRepository } from './reconciliation.repository.js';

export interface AdjustmentPayload {
  debitAccount: string;
  creditAccount: string;
  amountFen: bigint;
  reason: string;
  breakId: string | null;
}

/** The proposal's fingerprint: what the checker approves is exactly what the maker proposed. */
export function payloadHash(p: AdjustmentPayload): string {
  return createHash('sha256')
    .update(JSON.stringify([p.debitAccount, p.creditAccount, p.amountFen.toString(), 'CNY', p.reason, p.breakId]))
    .digest('hex');
}

export function adjustmentView(a: Adjustment) {
  return {
    id: a.id,
    debitAccount: a.debitAccount,
    creditAccount: a.creditAccount,
    amount: formatFen(a.amountFen),
    currency: 'CNY',
    reason: a.reason,
    breakId: a.breakId,
    status: a.status,
    payloadHash: a.payloadHash,
    proposedByKeyId: a.proposedByKeyId,
    decidedByKeyId: a.decidedByKeyId,
    decidedAt: a.decidedAt?.toISOString() ?? null,
    decisionComment: a.decisionComment,
    transferId: a.transferId,
    createdAt: a.createdAt.toISOString(),
  };
}

/** Manual transfers under four eyes: one clearing user proposes, a different one approves. */
@Injectable()
export class AdjustmentsService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: AdjustmentsRepository,
    private readonly recon: ReconciliationRepository,
    private readonly ledger: LedgerService,
    private readonly ledgerRepo: LedgerRepository,
    private readonly clock: Clock,
    private readonly staff: StaffRepository,
  ) {}

  async propose(p: Principal, payload: AdjustmentPayload): Promise<Adjustment> {
    if (payload.debitAccount === payload.creditAccount)
      throw new DomainError('VALIDATION_FAILED', 'debit and credit accounts must differ', [
        { field: 'creditAccount', message: 'same as debitAccount' },
      ]);
    const accounts = await this.ledgerRepo.accountsByCode(this.tx.root, [payload.debitAccount, payload.creditAccount]);
    for (const code of [payload.debitAccount, payload.creditAccount])
      if (!accounts.has(code)) throw new DomainError('ACCOUNT_NOT_FOUND', `no ledger account ${code}`);
    if (payload.breakId && !(await this.recon.findBreak(this.tx.root, payload.breakId)))
      throw new DomainError('NOT_FOUND', 'break not found');
    return this.repo.create(this.tx.root, { ...payload, payloadHash: payloadHash(payload), proposedByKeyId: p.keyId });
  }

  async approve(p: Principal, id: string, approvedHash: string): Promise<Adjustment> {
    return this.tx.run(async (tx) => {
      const a = await this.decidable(tx, p, id);
      // The row must still be what was proposed, and the checker must have seen that payload.
      if (payloadHash(a) !== a.payloadHash || approvedHash !== a.payloadHash)
        throw new DomainError('ADJUSTMENT_CHANGED', 'review the adjustment again: its payload is not the one you approve');
      const [t] = await this.ledger.post(tx, [
        {
          idempotencyKey: `adjustment.${a.id}`,
          debit: a.debitAccount,
          credit: a.creditAccount,
          amountFen: a.amountFen,
          kind: 'ADJUSTMENT',
          businessDate: this.clock.businessDate(),
          reference: a.reason.slice(0, 200),
        },
      ]);
      return this.repo.decide(tx, id, { status: 'APPROVED', decidedByKeyId: p.keyId, transferId: t.id });
    });
  }

  async reject(p: Principal, id: string, comment: string): Promise<Adjustment> {
    return this.tx.run(async (tx) => {
      await this.decidable(tx, p, id);
      return this.repo.decide(tx, id, { status: 'REJECTED', decidedByKeyId: p.keyId, decisionComment: comment });
    });
  }

  /** Newest first, a page at a time. */
  async list(q: { status?: AdjustmentStatus; limit?: number; cursor?: string }): Promise<Page<ReturnType<typeof adjustmentView>>> {
    const limit = q.limit ?? 50;
    const after = decodeCursor(q.cursor, /^\d{13}\|[0-9a-f-]{36}$/);
    const [afterMs, afterId] = after ? after.split('|') : [];
    const rows = await this.repo.page(
      this.tx.root,
      q.status,
      after ? { createdAt: new Date(Number(afterMs)), id: afterId } : undefined,
      limit + 1,
    );
    return toPage(rows, limit, (a) => `${String(a.createdAt.getTime()).padStart(13, '0')}|${a.id}`, adjustmentView);
  }

  async get(id: string): Promise<Adjustment> {
    const a = await this.repo.find(this.tx.root, id);
    if (!a) throw new DomainError('NOT_FOUND', 'adjustment not found');
    return a;
  }

  private async decidable(tx: Tx, p: Principal, id: string): Promise<Adjustment> {
    const a = await this.repo.lock(tx, id);
    if (!a) throw new DomainError('NOT_FOUND', 'adjustment not found');
    if (a.status !== 'PENDING') throw new DomainError('ADJUSTMENT_NOT_PENDING', `adjustment is ${a.status}`);
    // Four eyes by person: the proposer's other keys are the same pair of eyes.
    assertSecondPerson(p, { staffId: await this.staff.staffOfKey(tx, a.proposedByKeyId), keyId: a.proposedByKeyId }, 'SELF_APPROVAL');
    return a;
  }
}
