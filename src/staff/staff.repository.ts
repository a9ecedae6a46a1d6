import { Injectable } from '@nestjs/common';
import type { Staff } from '../generated/prisma/client.js';
import type { StaffStatus } from '../generated/prisma/enums.js';
import { PrismaService, type Db } from '../platform/prisma/prisma.service.js';

@Injectable()
export class StaffRepository {
  constructor(private readonly prisma: PrismaService) {}

  create(db: Db, data: { name: string; status: StaffStatus; origin: string; proposedBy?: string }): Promise<Staff> {
    return db.staff.create({ data: { ...data, decidedAt: data.status === 'ACTIVE' ? new Date() : undefined } });
  }

  findById(db: Db, id: string): Promise<Staff | null> {
    return db.staff.findUnique({ where: { id } });
  }

  /** Locks the row for a decision: two approvals at once decide once. */
  async lockForDecision(db: Db, id: string): Promise<void> {
    await db.$queryRaw`SELECT id FROM staff WHERE id = ${id}::uuid FOR UPDATE`;
  }

  decide(db: Db, id: string, status: 'ACTIVE' | 'REJECTED', decidedBy: string): Promise<Staff> {
    return db.staff.update({ where: { id }, data: { status, decidedBy, decidedAt: new Date() } });
  }

  /** The person a key belongs to (clearing keys only). */
  async staffOfKey(db: Db, keyId: string): Promise<string | null> {
    const key = await db.apiKey.findUnique({ where: { id: keyId }, select: { staffId: true } });
    return key?.staffId ?? null;
  }

  /** Newest first, `limit + 1` rows after the cursor (createdAt, id). */
  list(after: { createdAt: Date; id: string } | undefined, limit: number): Promise<Staff[]> {
    return this.prisma.staff.findMany({
      where: after ? { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] } : undefined,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit + 1,
    });
  }
}
