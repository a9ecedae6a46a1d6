import { Injectable } from '@nestjs/common';
import type { ApiKey, Member } from '../generated/prisma/client.js';
import type { ApiRole, MemberKind, MemberStatus } from '../generated/prisma/enums.js';
import { PrismaService, type Db, type Tx } from '../platform/prisma/prisma.service.js';

@Injectable()
export class MembersRepository {
  constructor(private readonly prisma: PrismaService) {}

  create(db: Db, data: { id?: string; name: string; kind: MemberKind }): Promise<Member> {
    return db.member.create({ data });
  }

  findById(id: string, db: Db = this.prisma): Promise<Member | null> {
    return db.member.findUnique({ where: { id } });
  }

  /** Members by id, those that exist. */
  findByIds(db: Db, ids: string[]): Promise<Member[]> {
    return db.member.findMany({ where: { id: { in: ids } } });
  }

  list(afterId: string | undefined, limit: number): Promise<Member[]> {
    return this.prisma.member.findMany({
      where: afterId ? { id: { gt: afterId } } : undefined,
      orderBy: { id: 'asc' },
      take: limit + 1,
    });
  }

  setStatus(id: string, status: MemberStatus, db: Db = this.prisma): Promise<Member> {
    return db.member.update({ where: { id }, data: { status } });
  }

  createKey(db: Db, data: { memberId: string; role: ApiRole; hash: string; label?: string; staffId?: string }): Promise<ApiKey> {
    return db.apiKey.upsert({ where: { hash: data.hash }, update: {}, create: data });
  }

  findKeyByHash(db: Db, hash: string): Promise<ApiKey | null> {
    return db.apiKey.findUnique({ where: { hash } });
  }

  findKey(id: string): Promise<ApiKey | null> {
    return this.prisma.apiKey.findUnique({ where: { id } });
  }

  /** A member's keys in creation order (id breaks ties), `limit + 1` of them after `after`. */
  listKeys(memberId: string, after: { createdAt: Date; id: string } | undefined, limit: number): Promise<ApiKey[]> {
    return this.prisma.apiKey.findMany({
      where: {
        memberId,
        ...(after ? { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] } : {}),
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: limit + 1,
    });
  }

  /** A live key of the member in the role, if any. */
  findLiveKey(db: Db, memberId: string, role: ApiRole): Promise<ApiKey | null> {
    return db.apiKey.findFirst({ where: { memberId, role, revokedAt: null } });
  }

  /** Serialises bootstraps across processes for the rest of the transaction. */
  async lockBootstrap(tx: Tx): Promise<void> {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('tokenclear:bootstrap'))`;
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
