import { isoDate } from '../platform/time/business-date.js';
import { Injectable } from '@nestjs/common';
import type { Withdrawal } from '../generated/prisma/client.js';
import type { TransferKind } from '../generated/prisma/enums.js';
import { assertCanSee } from '../platform/auth/ownership.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { isUuid } from '../platform/http/ids.js';
import type { Principal } from '../platform/http/request-context.js';
import { formatFen } from '../platform/money/money.js';
import { decodeCursor, toPage, type Page } from '../platform/pagination/page.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import type { BalancesView, TransferView, TrialBalanceView, WithdrawalView } from './dto/cash.dto.js';
import { LedgerRepository } from './ledger.repository.js';
import type { PostedTransfer } from './ledger.types.js';

export function toTransferView(t: PostedTransfer): TransferView {
  return {
    id: t.id,
    kind: t.kind,
    debitAccount: t.debit,
    creditAccount: t.credit,
    amount: formatFen(t.amountFen),
    currency: 'CNY',
    businessDate: t.businessDate,
    createdAt: t.createdAt.toISOString(),
    reference: t.reference,
    refs: t.refs as Record<string, string>,
  };
}

export function toWithdrawalView(w: Withdrawal): WithdrawalView {
  return {
    id: w.id,
    memberId: w.memberId,
    amount: formatFen(w.amountFen),
    currency: 'CNY',
    status: w.status,
    businessDate: isoDate(w.businessDate),
    createdAt: w.createdAt.toISOString(),
    decidedAt: w.decidedAt?.toISOString() ?? null,
    reason: w.reason,
    firstApprovedAt: w.firstApprovedAt?.toISOString() ?? null,
  };
}

/** Read side of the ledger: balances, history, trial balance. */
@Injectable()
export class LedgerQueries {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: LedgerRepository,
  ) {}

  async balances(principal: Principal, memberId: string): Promise<BalancesView> {
    const accounts = await this.visibleAccounts(principal, memberId);
    const of = (type: string) => formatFen(accounts.find((a) => a.type === type)?.balanceFen ?? 0n);
    return { currency: 'CNY', cash: of('CASH'), margin: of('MARGIN'), escrow: of('ESCROW'), pending: of('PENDING') };
  }

  async transfers(
    principal: Principal,
    memberId: string,
    q: { kind?: TransferKind; from?: string; to?: string; cursor?: string; limit: number },
  ): Promise<Page<TransferView>> {
    const accounts = await this.visibleAccounts(principal, memberId);
    const before = decodeCursor(q.cursor, /^\d{1,19}$/);
    const rows = await this.repo.listForAccounts(
      this.tx.root,
      accounts.map((a) => a.id),
      { kinds: q.kind ? [q.kind] : undefined, from: q.from, to: q.to, beforeSeq: before ? BigInt(before) : undefined, limit: q.limit },
    );
    return toPage(rows, q.limit, (t) => t.seq.toString(), toTransferView);
  }

  /** The accounts a page at a time (they grow with members); the total is always over every account. */
  async trialBalance(q: { cursor?: string; limit: number }): Promise<TrialBalanceView> {
    const after = decodeCursor(q.cursor, /^[A-Za-z0-9:._-]{1,100}$/);
    const [rows, total] = await Promise.all([
      this.repo.accountsPage(this.tx.root, { afterCode: after, limit: q.limit }),
      this.repo.totalBalanceFen(this.tx.root),
    ]);
    const page = toPage(
      rows,
      q.limit,
      (a) => a.code,
      (a) => ({ code: a.code, balance: formatFen(a.balanceFen) }),
    );
    return { currency: 'CNY', accounts: page.items, total: formatFen(total), nextCursor: page.nextCursor };
  }

  private async visibleAccounts(principal: Principal, memberId: string) {
    assertCanSee(principal, memberId, 'member');
    const accounts = isUuid(memberId) ? await this.repo.memberAccounts(this.tx.root, memberId) : [];
    if (accounts.length === 0) throw new DomainError('NOT_FOUND', 'member not found');
    return accounts;
  }
}
