import { Injectable } from '@nestjs/common';
import type { ApiRole, MemberKind, MemberStatus } from '../../generated/prisma/enums.js';
import { coalescedLookup } from '../batching/group-commit.js';
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
  staffId: string | null;
}

// lastUsedAt is a hint for humans; writing it on every request would turn reads into writes.
const LAST_USED_RESOLUTION_MS = 60_000;

@Injectable()
export class ApiKeyRepository {
  /** The key with its member's kind and status (a suspended member is refused at once too). */
  readonly findByHash: (key: string) => Promise<Credential | null>;

  constructor(private readonly prisma: PrismaService) {
    this.findByHash = coalescedLookup<Credential>(
      prisma.pool,
      `SELECT k.id AS "keyId", k.hash, k.role::text AS role, k."revokedAt", k."lastUsedAt", k."memberId",
              m.kind::text AS "memberKind", m.status::text AS "memberStatus", k."staffId"
       FROM api_keys k JOIN members m ON m.id = k."memberId" WHERE k.hash = ANY($1::text[])`,
      (r) => r.hash,
    );
  }

  async touch(credential: Credential, now = new Date()): Promise<void> {
    if (credential.lastUsedAt && now.getTime() - credential.lastUsedAt.getTime() < LAST_USED_RESOLUTION_MS) return;
    await this.prisma.apiKey.update({ where: { id: credential.keyId }, data: { lastUsedAt: now } });
  }
}
