import { Injectable } from '@nestjs/common';
import type { Staff } from '../generated/prisma/client.js';
import { MembersRepository } from '../members/members.repository.js';
import { generateApiKey, hashApiKey } from '../platform/auth/api-key.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { isUuid } from '../platform/http/ids.js';
import type { Principal } from '../platform/http/request-context.js';
import { decodeCursor, toPage, type Page } from '../platform/pagination/page.js';
import type { Db } from '../platform/prisma/prisma.service.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import type { StaffApprovedView, StaffView } from './dto/staff.dto.js';
import { assertSecondPerson, personOf } from './four-eyes.js';
import { StaffRepository } from './staff.repository.js';

const CURSOR = /^\d{1,15}\|[0-9a-f-]{36}$/;

export function toStaffView(s: Staff): StaffView {
  return {
    id: s.id,
    name: s.name,
    status: s.status,
    origin: s.origin,
    proposedBy: s.proposedBy,
    decidedBy: s.decidedBy,
    createdAt: s.createdAt.toISOString(),
    decidedAt: s.decidedAt?.toISOString() ?? null,
  };
}

/**
 * Clearing staff are people (SPEC §6.2). Through the API a person is proposed by one member of
 * staff and approved by another, and only the approval issues the new person's first key. The
 * first team comes from BOOTSTRAP_CLEARING_KEY and `cli staff add` (database access).
 */
@Injectable()
export class StaffService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly staff: StaffRepository,
    private readonly members: MembersRepository,
  ) {}

  async propose(p: Principal, name: string): Promise<StaffView> {
    const row = await this.staff.create(this.tx.root, { name: name.trim(), status: 'PENDING', origin: 'API', proposedBy: personOf(p) });
    return toStaffView(row);
  }

  async approve(p: Principal, id: string): Promise<StaffApprovedView> {
    return this.tx.run(async (tx) => {
      const row = await this.pending(tx, id);
      assertSecondPerson(p, { staffId: row.proposedBy }, 'SELF_APPROVAL');
      const decided = await this.staff.decide(tx, id, 'ACTIVE', personOf(p));
      const { key, keyId } = await this.issueKey(tx, decided.id, p.memberId, 'first key');
      return Object.assign(toStaffView(decided), { key, keyId });
    });
  }

  async reject(p: Principal, id: string): Promise<StaffView> {
    return this.tx.run(async (tx) => {
      const row = await this.pending(tx, id);
      assertSecondPerson(p, { staffId: row.proposedBy }, 'SELF_APPROVAL');
      return toStaffView(await this.staff.decide(tx, id, 'REJECTED', personOf(p)));
    });
  }

  async list(cursor: string | undefined, limit: number): Promise<Page<StaffView>> {
    const after = decodeCursor(cursor, CURSOR);
    const [ms, id] = after ? after.split('|') : [];
    const rows = await this.staff.list(after ? { createdAt: new Date(Number(ms)), id } : undefined, limit);
    return toPage(rows, limit, (s) => `${s.createdAt.getTime()}|${s.id}`, toStaffView);
  }

  /**
   * An active person with a first clearing key, without a second person: for the first team only
   * (BOOTSTRAP_CLEARING_KEY, `cli staff add`), which need database access or the deployment's secrets.
   */
  async addFirstTeamMember(
    db: Db,
    clearingMemberId: string,
    name: string,
    origin: 'BOOTSTRAP' | 'CLI',
    keyText?: string,
  ): Promise<{ staff: Staff; key: string; keyId: string }> {
    const person = await this.staff.create(db, { name, status: 'ACTIVE', origin });
    const { key, keyId } = await this.issueKey(db, person.id, clearingMemberId, origin.toLowerCase(), keyText);
    return { staff: person, key, keyId };
  }

  private async issueKey(db: Db, staffId: string, clearingMemberId: string, label: string, keyText?: string) {
    const key = keyText ?? generateApiKey();
    const row = await this.members.createKey(db, { memberId: clearingMemberId, role: 'clearing', hash: hashApiKey(key), label, staffId });
    return { key, keyId: row.id };
  }

  private async pending(db: Db, id: string): Promise<Staff> {
    if (!isUuid(id)) throw new DomainError('NOT_FOUND', 'staff member not found');
    await this.staff.lockForDecision(db, id);
    const row = await this.staff.findById(db, id);
    if (!row) throw new DomainError('NOT_FOUND', 'staff member not found');
    if (row.status !== 'PENDING') throw new DomainError('STAFF_NOT_PENDING', `${row.name} is already ${row.status}`);
    return row;
  }
}
