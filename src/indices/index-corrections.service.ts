import { Injectable } from '@nestjs/common';
import type { Prisma, TokenIndexFixing } from '../generated/prisma/client.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { isUuid } from '../platform/http/ids.js';
import type { Principal } from '../platform/http/request-context.js';
import type { Tx } from '../platform/prisma/prisma.service.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { isoDate } from '../platform/time/business-date.js';
import { Clock } from '../platform/time/clock.js';
import { assertSecondPerson, personOf } from '../staff/four-eyes.js';
import { nextLink } from './chain.js';
import { IndicesRepository, type NewFixing } from './indices.repository.js';

/**
 * Fixings are never restated (methodology §6): a correction is a new fixing naming the one it
 * corrects, proposed by one person and published — chained — only when a different person
 * approves it. The corrected fixing stays as it was.
 */
@Injectable()
export class IndexCorrectionsService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: IndicesRepository,
    private readonly clock: Clock,
  ) {}

  async propose(p: Principal, indexCode: string, fixingId: string, priceFen: bigint, reason: string): Promise<TokenIndexFixing> {
    const person = personOf(p);
    const target = isUuid(fixingId) ? await this.repo.find(this.tx.root, fixingId) : null;
    if (!target || target.indexCode !== indexCode) throw new DomainError('NOT_FOUND', `fixing ${fixingId} of ${indexCode} not found`);
    if (target.status !== 'PUBLISHED') throw new DomainError('INDEX_FIXING_NOT_PUBLISHED', `fixing ${fixingId} is ${target.status}`);
    const correction: NewFixing = {
      indexCode,
      businessDate: isoDate(target.businessDate),
      priceFen,
      method: 'CORRECTION',
      // The same prints stand behind the corrected price.
      volumeTokens: target.volumeTokens,
      inputs: { corrects: target.id },
      correctsId: target.id,
      reason: reason.trim(),
    };
    return this.repo.insertProposed(this.tx.root, correction, person);
  }

  approve(p: Principal, id: string): Promise<TokenIndexFixing> {
    return this.tx.run(async (tx) => {
      const row = await this.pending(tx, p, id);
      const f: NewFixing = {
        indexCode: row.indexCode,
        businessDate: isoDate(row.businessDate),
        priceFen: row.priceFen,
        method: row.method,
        volumeTokens: row.volumeTokens,
        inputs: row.inputs as Prisma.InputJsonValue,
        correctsId: row.correctsId,
        reason: row.reason,
      };
      return this.repo.publish(tx, id, personOf(p), nextLink(await this.repo.chainHead(tx, row.indexCode), f), this.clock.now());
    });
  }

  reject(p: Principal, id: string): Promise<TokenIndexFixing> {
    return this.tx.run(async (tx) => this.repo.reject(tx, (await this.pending(tx, p, id)).id, personOf(p)));
  }

  /** The proposed correction, locked (its index's chain too), decided by a second person only. */
  private async pending(tx: Tx, p: Principal, id: string): Promise<TokenIndexFixing> {
    const found = isUuid(id) ? await this.repo.find(tx, id) : null;
    if (!found || found.correctsId === null) throw new DomainError('NOT_FOUND', 'index fixing correction not found');
    await this.repo.lockIndex(tx, found.indexCode);
    await this.repo.lockFixing(tx, id);
    const row = (await this.repo.find(tx, id))!;
    if (row.status !== 'PROPOSED') throw new DomainError('INDEX_CORRECTION_NOT_PENDING', `the correction is already ${row.status}`);
    assertSecondPerson(p, { staffId: row.proposedBy }, 'SELF_APPROVAL');
    return row;
  }
}
