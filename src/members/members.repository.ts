import { Injectable } from '@nestjs/common';
import type { ApiKey, Member } from '../generated/prisma/client.js';
import type { ApiRole, MemberKind, MemberStatus } from '../generated/prisma/enums.js';
import { PrismaService, type Db } from '../platform/prisma/prisma.service.js';

@Injectable()
export class MembersRepository {
  constructor(private readonly prisma: PrismaService) {}

  create(db: Db, data: { id?: string; name: string; kind: MemberKind }): Promise<Member> {
    return db.member.create({ data });
  }

  findById(id: string, db: Db = this.prisma): Promise<Member | null> {
    return db.member.findUnique({ where: { id } });
  }

  list(afterId: string | undefined, limit: number): Promise<Member[]> {
    return this.prisma.member.findMany({
      where: afterId ? { id: { gt: afterId } } : undefined,
      orderBy: { id: 'asc' },
      take: limit + 1,
    });
  }

  setStatus(id: string, status: MemberStatus): Promise<Member> {
    return this.prisma.member.update({ where: { id }, data: { status } });
  }

  createKey(db: Db, data: { memberId: string; role: ApiRole; hash: string; label?: string }): Promise<ApiKey> {
    return db.apiKey.upsert({ where: { hash: data.hash }, update: {}, create: data });
  }

  findKey(id: string): Promise<ApiKey | null> {
    return this.prisma.apiKey.findUnique({ where: { id } });
  }

  listKeys(memberId: string): Promise<ApiKey[]> {
    return this.prisma.apiKey.findMany({ where: { memberId }, orderBy: { createdAt: 'asc' } });
  }

  /** Revocation is permanent; revoking twice keeps the first instant. */
  async revokeKey(id: string): Promise<ApiKey> {
    await this.prisma.apiKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
    return this.prisma.apiKey.findUniqueOrThrow({ where: { id } });
  }

  findClearingMember(db: Db = this.prisma): Promise<Member | null> {
    return db.member.findFirst({ where: { kind: 'CLEARING' }, orderBy: { createdAt: 'asc' } });
  }
}
