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

  async findByHash(hash: string): Promise<Credential | null> {
    const row = await this.prisma.apiKey.findUnique({
      where: { hash },
      include: { member: { select: { kind: true, status: true } } },
    });
    if (!row) return null;
    return {
      keyId: row.id,
      hash: row.hash,
      role: row.role,
      revokedAt: row.revokedAt,
      lastUsedAt: row.lastUsedAt,
      memberId: row.memberId,
      memberKind: row.member.kind,
      memberStatus: row.member.status,
    };
  }

  async touch(credential: Credential, now = new Date()): Promise<void> {
    if (credential.lastUsedAt && now.getTime() - credential.lastUsedAt.getTime() < LAST_USED_RESOLUTION_MS) return;
    await this.prisma.apiKey.update({ where: { id: credential.keyId }, data: { lastUsedAt: now } });
  }
}
