import { Injectable } from '@nestjs/common';
import type { BankAccount } from '../generated/prisma/client.js';
import { assertCanSee } from '../platform/auth/ownership.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { isUuid } from '../platform/http/ids.js';
import type { Principal } from '../platform/http/request-context.js';
import { decodeCursor, toPage, type Page } from '../platform/pagination/page.js';
import type { Db } from '../platform/prisma/prisma.service.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { Clock } from '../platform/time/clock.js';
import { assertSecondPerson, personOf } from '../staff/four-eyes.js';
import { BankAccountsRepository } from './bank-accounts.repository.js';
import type { BankAccountView } from './bank-accounts.dto.js';

export function bankAccountView(a: BankAccount): BankAccountView {
  return {
    id: a.id,
    memberId: a.memberId,
    bankCode: a.bankCode,
    accountNumber: a.accountNumber,
    holderName: a.holderName,
    status: a.status,
    proposedByKeyId: a.proposedByKeyId,
    proposedByStaffId: a.proposedByStaffId,
    decidedByKeyId: a.decidedByKeyId,
    decidedByStaffId: a.decidedByStaffId,
    decidedAt: a.decidedAt?.toISOString() ?? null,
    reason: a.reason,
    createdAt: a.createdAt.toISOString(),
  };
}

/**
 * Where a member's payouts go (SPEC §6.5). A proposed account is PENDING until a clearing person
 * other than its proposer verifies it: a single person cannot redirect a member's money.
 */
@Injectable()
export class BankAccountsService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: BankAccountsRepository,
    private readonly clock: Clock,
  ) {}

  async propose(p: Principal, memberId: string, input: { bankCode: string; accountNumber: string; holderName: string }) {
    assertCanSee(p, memberId, 'member');
    const member = isUuid(memberId) ? await this.repo.member(this.tx.root, memberId) : null;
    if (!member || member.kind === 'CLEARING') throw new DomainError('NOT_FOUND', 'member not found');
    return this.repo.create(this.tx.root, {
      memberId,
      bankCode: input.bankCode,
      accountNumber: input.accountNumber,
      holderName: input.holderName.trim(),
      proposedByKeyId: p.keyId,
      proposedByStaffId: p.role === 'clearing' ? personOf(p) : null,
    });
  }

  /** VERIFIED or REJECTED by a clearing person; never by the person who proposed it (whatever key they use). */
  async decide(p: Principal, id: string, decision: 'VERIFIED' | 'REJECTED', reason?: string): Promise<BankAccount> {
    const person = personOf(p);
    return this.tx.run(async (tx) => {
      const account = isUuid(id) ? await this.repo.find(tx, id) : null;
      if (!account) throw new DomainError('NOT_FOUND', 'bank account not found');
      if (account.status !== 'PENDING') throw new DomainError('BANK_ACCOUNT_NOT_PENDING', `bank account is already ${account.status}`);
      // A member's own proposal may be decided by any clearing person (who is recorded).
      if (account.proposedByStaffId) assertSecondPerson(p, { staffId: account.proposedByStaffId }, 'SELF_APPROVAL');
      const moved = await this.repo.decide(tx, id, {
        status: decision,
        decidedByKeyId: p.keyId,
        decidedByStaffId: person,
        decidedAt: this.clock.now(),
        reason,
      });
      const after = (await this.repo.find(tx, id))!;
      if (moved === 0) throw new DomainError('BANK_ACCOUNT_NOT_PENDING', `bank account is already ${after.status}`);
      return after;
    });
  }

  async list(p: Principal, memberId: string, q: { limit?: number; cursor?: string }): Promise<Page<BankAccountView>> {
    assertCanSee(p, memberId, 'member');
    const member = isUuid(memberId) ? await this.repo.member(this.tx.root, memberId) : null;
    if (!member) throw new DomainError('NOT_FOUND', 'member not found');
    const limit = q.limit ?? 50;
    const after = decodeCursor(q.cursor, /^\d{13}\|[0-9a-f-]{36}$/);
    const [ms, afterId] = after ? after.split('|') : [];
    const rows = await this.repo.page(
      this.tx.root,
      memberId,
      after ? { createdAt: new Date(Number(ms)), id: afterId } : undefined,
      limit + 1,
    );
    return toPage(rows, limit, (a) => `${String(a.createdAt.getTime()).padStart(13, '0')}|${a.id}`, bankAccountView);
  }

  /** The verified account a withdrawal pays to, read in the caller's transaction; 409 when there is none. */
  async payee(db: Db, memberId: string): Promise<BankAccount> {
    const account = await this.repo.latestVerified(db, memberId);
    if (!account)
      throw new DomainError('NO_VERIFIED_BANK_ACCOUNT', 'add a bank account and have the clearing house verify it before withdrawing');
    return account;
  }
}
