import { Injectable } from '@nestjs/common';
import { MembersRepository } from '../members/members.repository.js';
import { AuditRepository } from '../platform/audit/audit.repository.js';
import { hashApiKey } from '../platform/auth/api-key.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { StaffService } from './staff.service.js';

export interface BootstrapResult {
  clearingMemberId: string;
  /** Present only when a key was created now (shown once). */
  createdKey?: string;
  keyId: string;
  staffId: string | null;
}

/**
 * Creates the clearing-house member and a first person of its staff with a clearing key,
 * idempotently: the same key text always maps to the same key and person (by hash), and the
 * member is created once under an advisory lock. Each new key given here (BOOTSTRAP_CLEARING_KEY,
 * `cli bootstrap --new-key`) is a new person of the first team, named for where it came from.
 */
@Injectable()
export class BootstrapService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly members: MembersRepository,
    private readonly staff: StaffService,
    private readonly audit: AuditRepository,
  ) {}

  async ensureClearing(key?: string, name = 'bootstrap'): Promise<BootstrapResult> {
    return this.tx.run(async (tx) => {
      await this.members.lockBootstrap(tx);
      const member =
        (await this.members.findClearingMember(tx)) ??
        (await this.members.create(tx, { name: 'TokenClear Clearing House', kind: 'CLEARING' }));
      const existing = key
        ? await this.members.findKeyByHash(tx, hashApiKey(key))
        : await this.members.findLiveKey(tx, member.id, 'clearing');
      if (existing) return { clearingMemberId: member.id, keyId: existing.id, staffId: existing.staffId };
      const added = await this.staff.addFirstTeamMember(tx, member.id, name, 'BOOTSTRAP', key);
      return { clearingMemberId: member.id, keyId: added.keyId, staffId: added.staff.id, createdKey: key ? undefined : added.key };
    });
  }

  /**
   * `cli staff add --name N`: a person of the first team with a first key (database access, so no
   * second person can be asked); audited in the same transaction, as action `staff.add` by `cli`.
   */
  async addStaff(name: string, requestId: string): Promise<{ staffId: string; keyId: string; key: string; clearingMemberId: string }> {
    return this.tx.run(async (tx) => {
      await this.members.lockBootstrap(tx);
      const member =
        (await this.members.findClearingMember(tx)) ??
        (await this.members.create(tx, { name: 'TokenClear Clearing House', kind: 'CLEARING' }));
      const added = await this.staff.addFirstTeamMember(tx, member.id, name, 'CLI');
      await this.audit.appendMany(tx, [
        { role: 'cli', action: 'staff.add', targetType: 'staff', targetId: added.staff.id, requestId, outcome: 'SUCCESS' },
      ]);
      return { staffId: added.staff.id, keyId: added.keyId, key: added.key, clearingMemberId: member.id };
    });
  }
}
