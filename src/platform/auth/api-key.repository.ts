import { Injectable } from '@nestjs/common';
import type { ApiRole, MemberKind, MemberStatus } from '../../generated/prisma/enums.js';
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
  constructor(private readonly prisma: PrismaService) {}

  /** The key with its member's kind and status, in one statement (it runs on every request). */
  async findByHash(hash: string): Promise<Credential | null> {
    const [row] = await this.prisma.$queryRaw<Credential[]>`
      SELECT k.id AS "keyId", k.hash, k.role::text AS role, k."revokedAt", k."lastUsedAt", k."memberId",
             m.kind::text AS "memberKind", m.status::text AS "memberStatus"
      FROM api_keys k JOIN members m ON m.id = k."memberId" WHERE k.hash = ${hash}`;
    return row ?? null;
  }

  async touch(credential: Credential, now = new Date()): Promise<void> {
    if (credential.lastUsedAt && now.getTime() - credential.lastUsedAt.getTime() < LAST_USED_RESOLUTION_MS) return;
    await this.prisma.apiKey.update({ where: { id: credential.keyId }, data: { lastUsedAt: now } });
  }
}
