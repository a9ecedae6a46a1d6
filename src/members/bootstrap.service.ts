import { Injectable } from '@nestjs/common';
import { generateApiKey, hashApiKey } from '../platform/auth/api-key.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { MembersRepository } from './members.repository.js';

export interface BootstrapResult {
  clearingMemberId: string;
  /** Present only when a key was created now (shown once). */
  createdKey?: string;
  keyId: string;
}

/**
 * Creates the clearing-house member and a first clearing key, idempotently: the same key text
 * always maps to the same row (by hash), and the member is created once under an advisory lock.
 */
@Injectable()
export class BootstrapService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly members: MembersRepository,
  ) {}

  async ensureClearing(key?: string): Promise<BootstrapResult> {
    return this.tx.run(async (tx) => {
      await this.members.lockBootstrap(tx);
      const member =
        (await this.members.findClearingMember(tx)) ??
        (await this.members.create(tx, { name: 'TokenClear Clearing House', kind: 'CLEARING' }));
      if (!key) {
        const existing = await this.members.findLiveKey(tx, member.id, 'clearing');
        if (existing) return { clearingMemberId: member.id, keyId: existing.id };
      }
      const text = key ?? generateApiKey();
      const row = await this.members.createKey(tx, {
        memberId: member.id,
        role: 'clearing',
        hash: hashApiKey(text),
        label: 'bootstrap',
      });
      return { clearingMemberId: member.id, keyId: row.id, createdKey: key ? undefined : text };
    });
  }
}
