import { randomUUID } from 'node:crypto';
import { isUuid } from '../platform/http/ids.js';
import { Inject, Injectable } from '@nestjs/common';
import type { Withdrawal } from '../generated/prisma/client.js';
import { assertCanSee, memberScope } from '../platform/auth/ownership.js';
import { DomainError } from '../platform/errors/error-codes.js';
import type { Principal } from '../platform/http/request-context.js';
import type { Tx } from '../platform/prisma/prisma.service.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { decodeCursor, toPage, type Page } from '../platform/pagination/page.js';
import { BankAccountsService } from '../payments/bank-accounts.service.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { Clock } from '../platform/time/clock.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { assertSecondPerson, personOf } from '../staff/four-eyes.js';
import { LedgerEvents } from './ledger.events.js';
import { LedgerService } from './ledger.service.js';
import { WithdrawalsRepository } from './withdrawals.repository.js';
import { HOUSE, memberAccount, type PostedTransfer } from './ledger.types.js';

const WITHDRAWAL_CURSOR = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\|[0-9a-f-]{36}$/;

/** Deposits recorded by clearing staff and member withdrawals held, then approved or rejected. */
@Injectable()
export class CashService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly ledger: LedgerService,
    private readonly clock: Clock,
    private readonly events: LedgerEvents,
    private readonly withdrawals: WithdrawalsRepository,
    private readonly outbox: OutboxService,
    private readonly bankAccounts: BankAccountsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * A bank credit is recorded once: the bank reference is part of the transfer key, so the same
   * reference again returns the original deposit (or 409 if the amount differs).
   */
  async deposit(memberId: string, amountFen: bigint, reference: string): Promise<PostedTransfer> {
    await this.assertMember(memberId);
    const [posted] = await this.tx.run((tx) => this.depositsIn(tx, [{ memberId, amountFen, reference }]));
    this.events.deposited.next({ memberId, amountFen });
    return posted;
  }

  /**
   * The same for many credits in one posting inside the caller's transaction (a bank statement
   * import posts its collections at once); the posted transfers come back in the given order.
   */
  async depositsIn(tx: Tx, credits: { memberId: string; amountFen: bigint; reference: string }[]): Promise<PostedTransfer[]> {
    if (credits.length === 0) return [];
    const businessDate = this.clock.businessDate();
    const key = (c: { memberId: string; reference: string }) => `deposit.${c.memberId}.${c.reference}`;
    try {
      const posted = await this.ledger.post(
        tx,
        credits.map((c) => ({
          idempotencyKey: key(c),
          debit: HOUSE.bankSettlement,
          credit: memberAccount(c.memberId, 'CASH'),
          amountFen: c.amountFen,
          kind: 'DEPOSIT' as const,
          businessDate,
          reference: c.reference,
        })),
      );
      // Committed with the money: settlement closes the margin calls it covers. The id is fresh because a
      // replayed deposit returns the original transfer (an id derived from it would collide); its job closes nothing.
      await this.outbox.enqueueMany(
        tx,
        'settlement.close-covered-calls',
        credits.map((c) => ({ payload: { memberId: c.memberId }, jobId: `close-covered-calls-${randomUUID()}` })),
      );
      const byKey = new Map(posted.map((t) => [t.idempotencyKey, t]));
      return credits.map((c) => byKey.get(key(c))!);
    } catch (err) {
      if (err instanceof DomainError && err.code === 'TRANSFER_KEY_CONFLICT') {
        const which = credits.length === 1 ? `bank reference ${credits[0].reference}` : 'a bank reference of this posting';
        throw new DomainError('DEPOSIT_REFERENCE_REUSED', `${which} was already recorded with another amount`);
      }
      throw err;
    }
  }

  /** The amount moves cash → pending at once, so it cannot be spent while awaiting approval. */
  async requestWithdrawal(principal: Principal, memberId: string, amountFen: bigint, id?: string): Promise<Withdrawal> {
    assertCanSee(principal, memberId, 'member');
    if (id) {
      // A retry of a request whose first attempt committed (see idForRequest).
      const existing = await this.withdrawals.find(this.tx.root, id);
      if (existing) return existing;
    }
    return this.tx.run(async (tx) => {
      const businessDate = this.clock.businessDate();
      // Paid only to a verified account (SPEC §6.5): 409 NO_VERIFIED_BANK_ACCOUNT otherwise.
      const payee = await this.bankAccounts.payee(tx, memberId);
      const w = await this.withdrawals.create(tx, {
        id,
        memberId,
        amountFen,
        requestedByKeyId: principal.keyId,
        businessDate,
        bankAccountId: payee.id,
      });
      await this.ledger.post(tx, [
        {
          idempotencyKey: `withdrawal.${w.id}.hold`,
          debit: memberAccount(memberId, 'CASH'),
          credit: memberAccount(memberId, 'PENDING'),
          amountFen,
          kind: 'WITHDRAWAL_HOLD',
          businessDate,
          refs: { withdrawalId: w.id },
        },
      ]);
      return w;
    });
  }

  /**
   * Above WITHDRAWAL_FOUR_EYES_ABOVE money leaves only with two people's approval (SPEC §6.2): the
   * first approval is recorded and the withdrawal stays PENDING; a second, different person pays
   * it (the same person with another key is SELF_APPROVAL). Either may reject at any time.
   */
  async decide(principal: Principal, withdrawalId: string, decision: 'APPROVED' | 'REJECTED', reason?: string): Promise<Withdrawal> {
    return this.tx.run(async (tx) => {
      if (decision === 'APPROVED') {
        const first = await this.firstOfTwoApprovals(tx, principal, withdrawalId);
        if (first) return first;
      }
      const w = await this.claimPending(tx, withdrawalId, decision, principal.keyId, reason);
      const businessDate = this.clock.businessDate();
      const pending = memberAccount(w.memberId, 'PENDING');
      await this.ledger.post(tx, [
        decision === 'APPROVED'
          ? {
              idempotencyKey: `withdrawal.${w.id}.pay`,
              debit: pending,
              credit: HOUSE.bankSettlement,
              amountFen: w.amountFen,
              kind: 'WITHDRAWAL',
              businessDate,
              refs: { withdrawalId: w.id },
            }
          : {
              idempotencyKey: `withdrawal.${w.id}.release`,
              debit: pending,
              credit: memberAccount(w.memberId, 'CASH'),
              amountFen: w.amountFen,
              kind: 'WITHDRAWAL_RELEASE',
              businessDate,
              refs: { withdrawalId: w.id },
            },
      ]);
      return w;
    });
  }

  /**
   * A defaulted member's withdrawals are frozen: each pending one is refused inside the caller's
   * transaction and its amount returned pending → cash, where the default's waterfall sees it.
   */
  async refusePendingOf(tx: Tx, memberId: string, deciderKeyId: string | null, reason: string): Promise<number> {
    const pending = await this.withdrawals.pendingOf(tx, memberId);
    const businessDate = this.clock.businessDate();
    for (const w of pending) {
      if (
        (await this.withdrawals.decide(tx, w.id, {
          status: 'REJECTED',
          decidedByKeyId: deciderKeyId,
          decidedAt: this.clock.now(),
          reason,
        })) === 0
      )
        continue;
      await this.ledger.post(tx, [
        {
          idempotencyKey: `withdrawal.${w.id}.release`,
          debit: memberAccount(memberId, 'PENDING'),
          credit: memberAccount(memberId, 'CASH'),
          amountFen: w.amountFen,
          kind: 'WITHDRAWAL_RELEASE',
          businessDate,
          refs: { withdrawalId: w.id },
        },
      ]);
    }
    return pending.length;
  }

  async getWithdrawal(principal: Principal, id: string): Promise<Withdrawal> {
    const w = isUuid(id) ? await this.withdrawals.find(this.tx.root, id) : null;
    if (!w) throw new DomainError('NOT_FOUND', 'withdrawal not found');
    assertCanSee(principal, w.memberId, 'withdrawal');
    return w;
  }

  /** Newest first; the cursor is the last row's (createdAt, id): ids break ties between equal timestamps. */
  async listWithdrawals(
    principal: Principal,
    q: { status?: Withdrawal['status']; cursor?: string; limit: number },
  ): Promise<Page<Withdrawal>> {
    const key = decodeCursor(q.cursor, WITHDRAWAL_CURSOR);
    const [createdAt, id] = key?.split('|') ?? [];
    const rows = await this.withdrawals.page(this.tx.root, {
      memberId: memberScope(principal),
      status: q.status,
      before: key ? { createdAt: new Date(createdAt), id } : undefined,
      limit: q.limit,
    });
    return toPage(
      rows,
      q.limit,
      (w) => `${w.createdAt.toISOString()}|${w.id}`,
      (w) => w,
    );
  }

  /** The withdrawal when this approval was the first of two it needs; undefined when it decides. */
  private async firstOfTwoApprovals(tx: Tx, principal: Principal, id: string): Promise<Withdrawal | undefined> {
    if (!isUuid(id)) throw new DomainError('NOT_FOUND', 'withdrawal not found');
    const w = await this.withdrawals.lockForDecision(tx, id);
    if (!w) throw new DomainError('NOT_FOUND', 'withdrawal not found');
    if (w.status !== 'PENDING') throw new DomainError('WITHDRAWAL_NOT_PENDING', `withdrawal is already ${w.status}`);
    if (w.amountFen <= this.config.withdrawalFourEyesAboveFen) return undefined;
    if (!w.firstApprovedByKeyId) {
      return this.withdrawals.recordFirstApproval(tx, id, { keyId: principal.keyId, staffId: personOf(principal), at: this.clock.now() });
    }
    assertSecondPerson(principal, { staffId: w.firstApprovedByStaffId, keyId: w.firstApprovedByKeyId }, 'SELF_APPROVAL');
    return undefined;
  }

  /** Compare-and-set on the status: two clearing users deciding at once cannot both win. */
  private async claimPending(tx: Tx, id: string, decision: 'APPROVED' | 'REJECTED', keyId: string, reason?: string): Promise<Withdrawal> {
    if (!isUuid(id)) throw new DomainError('NOT_FOUND', 'withdrawal not found');
    const count = await this.withdrawals.decide(tx, id, { status: decision, decidedByKeyId: keyId, decidedAt: this.clock.now(), reason });
    const w = await this.withdrawals.find(tx, id);
    if (!w) throw new DomainError('NOT_FOUND', 'withdrawal not found');
    if (count === 0) throw new DomainError('WITHDRAWAL_NOT_PENDING', `withdrawal is already ${w.status}`);
    return w;
  }

  private async assertMember(memberId: string): Promise<void> {
    const m = isUuid(memberId) ? await this.withdrawals.member(this.tx.root, memberId) : null;
    if (!m || m.kind === 'CLEARING') throw new DomainError('NOT_FOUND', 'member not found');
  }
}
