import { Injectable } from '@nestjs/common';
import { memberAccount, type TransferRequest } from '../ledger/ledger.types.js';
import type { Db } from '../platform/prisma/prisma.service.js';
import { GuaranteeTopUpRepository } from './guarantee-top-up.repository.js';

/**
 * The daily run's guarantee-fund step (SPEC §6.4): each member's contribution is brought up to its
 * requirement from cash. Collected by right: cash short of the shortfall goes negative, and the
 * run's completion opens the margin call for it as for variation margin. Nothing is given back
 * when a requirement falls (clearing returns an excess by adjustment).
 */
@Injectable()
export class GuaranteeTopUp {
  constructor(private readonly repo: GuaranteeTopUpRepository) {}

  async transfers(db: Db, base: string, businessDate: string, runId: string): Promise<TransferRequest[]> {
    return (await this.repo.shortfalls(db)).map((s) => ({
      idempotencyKey: `${base}.guarantee.${s.memberId}`,
      debit: memberAccount(s.memberId, 'CASH'),
      credit: memberAccount(s.memberId, 'GUARANTEE'),
      amountFen: s.shortfallFen,
      kind: 'GUARANTEE_CONTRIBUTION',
      businessDate,
      refs: { settlementRunId: runId },
      collectByRight: true,
    }));
  }
}
