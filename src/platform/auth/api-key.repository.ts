import { Injectable } from '@nestjs/common';
import type { ApiRole, MemberKind, MemberStatus } from '../../generated/prisma/enums.js';
import { fulfilled, GroupCommit } from '../batching/group-commit.js';
import { PrismaService } from '../prisma/prisma.service.js';

export interface Credential {
  keyId: string;
  hash: string;
  role: ApiRole;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  memberId: string;
  memberKind: MemberKind;
  memberStatus: MemberStatus;
}

// lastUsedAt is a hint for humans; writing it on every request would turn reads into writes.
const LAST_USED_RESOLUTION_MS = 60_000;

@Injectable()
export class ApiKeyRepository {
  /**
   * Every request looks its key up; lookups that arrive while two are in flight go together in
   * one statement. Nothing is cached: a revoked key or a suspended member is refused at once.
   */
  private readonly lookups = new GroupCommit<string, Credential | null>(async (hashes) => {
    // Straight on the pg pool: this runs on every request, and Prisma's client costs several
    // times the driver's time per statement.
    const { rows } = await this.prisma.pool.query<Credential>(
      `SELECT k.id AS "keyId", k.hash, k.role::text AS role, k."revokedAt", k."lastUsedAt", k."memberId",
              m.kind::text AS "memberKind", m.status::text AS "memberStatus"
       FROM api_keys k JOIN members m ON m.id = k."memberId" WHERE k.hash = ANY($1::text[])`,
      [[...new Set(hashes)]],
    );
    const byHash = new Map(rows.map((r) => [r.hash, r]));
    return hashes.map((h) => fulfilled(byHash.get(h) ?? null));
  }, 500, undefined, 2);

  constructor(private readonly prisma: PrismaService) {}

  /** The key with its member's kind and status. */
  findByHash(hash: string): Promise<Credential | null> {
    return this.lookups.run(hash);
  }

  async touch(credential: Credential, now = new Date()): Promise<void> {
    if (credential.lastUsedAt && now.getTime() - credential.lastUsedAt.getTime() < LAST_USED_RESOLUTION_MS) return;
    await this.prisma.apiKey.update({ where: { id: credential.keyId }, data: { lastUsedAt: now } });
  }
}
