import { randomUUID } from 'node:crypto';
import { isUuid, UUID_PATTERN } from '../platform/http/ids.js';
import { Injectable } from '@nestjs/common';
import type { ApiKey, Member } from '../generated/prisma/client.js';
import type { ApiRole, MemberKind } from '../generated/prisma/enums.js';
import { generateApiKey, hashApiKey } from '../platform/auth/api-key.js';
import { assertCanSee, memberScope } from '../platform/auth/ownership.js';
import { DomainError } from '../platform/errors/error-codes.js';
import type { Principal } from '../platform/http/request-context.js';
import { decodeCursor, toPage, type Page } from '../platform/pagination/page.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import type { ApiKeyCreatedView, ApiKeyView, MemberView } from './dto/member.dto.js';
import { MembersRepository } from './members.repository.js';
import { LedgerRepository } from '../ledger/ledger.repository.js';
import { personOf } from '../staff/four-eyes.js';

/** An api key page's cursor: the last key's creation instant (ms) and id. */
const KEY_CURSOR = /^\d{1,15}\|[0-9a-f-]{36}$/;

const ROLE_FOR_KIND: Record<MemberKind, ApiRole> = {
  OPERATOR: 'operator',
  BUYER: 'buyer',
  TRADER: 'trader',
  CLEARING: 'clearing',
};

export function toMemberView(m: Member): MemberView {
  return { id: m.id, name: m.name, kind: m.kind, status: m.status, createdAt: m.createdAt.toISOString() };
}

function toKeyView(k: ApiKey): ApiKeyView {
  return {
    id: k.id,
    memberId: k.memberId,
    role: k.role,
    label: k.label,
    createdAt: k.createdAt.toISOString(),
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
  };
}

@Injectable()
export class MembersService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly members: MembersRepository,
    private readonly ledger: LedgerRepository,
    private readonly outbox: OutboxService,
  ) {}

  /** The member and its cash, margin, escrow and pending accounts exist together or not at all. */
  async create(name: string, kind: MemberKind, id?: string): Promise<MemberView> {
    const existing = id ? await this.members.findById(id) : null;
    if (existing) return toMemberView(existing);
    const member = await this.tx.run(async (tx) => {
      const m = await this.members.create(tx, { id, name: name.trim(), kind });
      await this.ledger.createMemberAccounts(tx, m.id);
      return m;
    });
    return toMemberView(member);
  }

  async get(principal: Principal, id: string): Promise<MemberView> {
    return toMemberView(await this.loadVisible(principal, id));
  }

  async list(principal: Principal, cursor: string | undefined, limit: number): Promise<Page<MemberView>> {
    const scope = memberScope(principal);
    if (scope) return { items: [await this.get(principal, scope)], nextCursor: null };
    const rows = await this.members.list(decodeCursor(cursor, UUID_PATTERN), limit);
    return toPage(rows, limit, (m) => m.id, toMemberView);
  }

  async setStatus(id: string, status: 'ACTIVE' | 'SUSPENDED'): Promise<MemberView> {
    const member = await this.members.findById(id);
    if (!member) throw new DomainError('NOT_FOUND', 'member not found');
    if (member.kind === 'CLEARING' && status === 'SUSPENDED') {
      throw new DomainError('ROLE_KIND_MISMATCH', 'The clearing house itself cannot be suspended');
    }
    if (status !== 'SUSPENDED') return toMemberView(await this.members.setStatus(id, status));
    // Committed with the suspension: delivery sends the leases its nodes hold back to dispatch at
    // once (the token guard already refuses those nodes, so their results could not land).
    const suspended = await this.tx.run(async (tx) => {
      const m = await this.members.setStatus(id, status, tx);
      if (m.kind === 'OPERATOR') {
        await this.outbox.enqueue(tx, 'delivery.return-leases', { operatorId: id }, { jobId: `return-leases.${randomUUID()}` });
      }
      return m;
    });
    this.outbox.poke();
    return toMemberView(suspended);
  }

  /**
   * A clearing key made here belongs to the person asking for it (a second key of the same pair
   * of eyes); a key for another person comes only with that person's approval (POST /v1/staff).
   */
  async createKey(principal: Principal, memberId: string, role: ApiRole, label?: string): Promise<ApiKeyCreatedView> {
    const member = await this.members.findById(memberId);
    if (!member) throw new DomainError('NOT_FOUND', 'member not found');
    if (ROLE_FOR_KIND[member.kind] !== role) {
      throw new DomainError('ROLE_KIND_MISMATCH', `A ${member.kind} member can only hold ${ROLE_FOR_KIND[member.kind]} keys`);
    }
    const key = generateApiKey();
    const staffId = role === 'clearing' ? personOf(principal) : undefined;
    const row = await this.members.createKey(this.tx.root, { memberId, role, hash: hashApiKey(key), label, staffId });
    return { id: row.id, key, role: row.role, label: row.label };
  }

  async listKeys(principal: Principal, memberId: string, cursor: string | undefined, limit: number): Promise<Page<ApiKeyView>> {
    await this.loadVisible(principal, memberId);
    const after = decodeCursor(cursor, KEY_CURSOR);
    const [ms, id] = after ? after.split('|') : [];
    const rows = await this.members.listKeys(memberId, after ? { createdAt: new Date(Number(ms)), id } : undefined, limit);
    return toPage(rows, limit, (k) => `${k.createdAt.getTime()}|${k.id}`, toKeyView);
  }

  /** Clearing staff may revoke any key; a member only its own. */
  async revokeKey(principal: Principal, keyId: string): Promise<ApiKeyView> {
    if (!isUuid(keyId)) throw new DomainError('NOT_FOUND', 'api key not found');
    const key = await this.members.findKey(keyId);
    if (!key) throw new DomainError('NOT_FOUND', 'api key not found');
    assertCanSee(principal, key.memberId, 'api key');
    return toKeyView(await this.members.revokeKey(keyId));
  }

  private async loadVisible(principal: Principal, id: string): Promise<Member> {
    assertCanSee(principal, id, 'member');
    const member = isUuid(id) ? await this.members.findById(id) : null;
    if (!member) throw new DomainError('NOT_FOUND', 'member not found');
    return member;
  }
}
