import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { LedgerService } from '../ledger/ledger.service.js';
import { HOUSE, type PostedTransfer } from '../ledger/ledger.types.js';
import { assertCanSee } from '../platform/auth/ownership.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { isUuid } from '../platform/http/ids.js';
import type { Principal } from '../platform/http/request-context.js';
import { formatFen } from '../platform/money/money.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { Clock } from '../platform/time/clock.js';
import { personOf } from '../staff/four-eyes.js';
import { DefaultsRepository } from './defaults.repository.js';
import type { GuaranteeView } from './dto/defaults.dto.js';

/**
 * The guarantee fund and the CCP's capital (SPEC §6.4). Clearing sets each member's requirement;
 * the next daily run moves the shortfall cash → guarantee (src/settlement/guarantee-top-up.ts).
 * The CCP's capital is paid in from its settlement bank: bank:settlement → ccp:capital.
 */
@Injectable()
export class GuaranteeService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: DefaultsRepository,
    private readonly ledger: LedgerService,
    private readonly clock: Clock,
  ) {}

  async setRequirement(p: Principal, memberId: string, amountFen: bigint): Promise<GuaranteeView> {
    const member = isUuid(memberId) ? await this.repo.member(this.tx.root, memberId) : null;
    if (!member || member.kind === 'CLEARING') throw new DomainError('NOT_FOUND', 'member not found');
    await this.repo.setRequirement(this.tx.root, memberId, amountFen, personOf(p));
    return this.view(p, memberId);
  }

  async view(p: Principal, memberId: string): Promise<GuaranteeView> {
    assertCanSee(p, memberId, 'member');
    const member = isUuid(memberId) ? await this.repo.member(this.tx.root, memberId) : null;
    if (!member) throw new DomainError('NOT_FOUND', 'member not found');
    const g = await this.repo.guarantee(this.tx.root, memberId);
    return { memberId, requirement: formatFen(g.requirementFen), contribution: formatFen(g.contributionFen), currency: 'CNY' };
  }

  /** The same reference twice is one payment (the transfer key carries it). */
  async recordCapital(amountFen: bigint, reference?: string): Promise<PostedTransfer> {
    const [posted] = await this.tx.run((tx) =>
      this.ledger.post(tx, [
        {
          idempotencyKey: `capital.${reference ?? randomUUID()}`,
          debit: HOUSE.bankSettlement,
          credit: HOUSE.ccpCapital,
          amountFen,
          kind: 'CAPITAL',
          businessDate: this.clock.businessDate(),
          reference,
        },
      ]),
    );
    return posted;
  }
}
