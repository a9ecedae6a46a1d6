import { dateColumn } from '../platform/time/business-date.js';
import { Injectable } from '@nestjs/common';
import type { Member, Withdrawal } from '../generated/prisma/client.js';
import type { WithdrawalStatus } from '../generated/prisma/enums.js';
import type { Db } from '../platform/prisma/prisma.service.js';

@Injectable()
export class WithdrawalsRepository {
  find(db: Db, id: string): Promise<Withdrawal | null> {
    return db.withdrawal.findUnique({ where: { id } });
  }

  create(
    db: Db,
    data: { id?: string; memberId: string; amountFen: bigint; requestedByKeyId: string; businessDate: string; bankAccountId?: string },
  ): Promise<Withdrawal> {
    return db.withdrawal.create({ data: { ...data, businessDate: dateColumn(data.businessDate) } });
  }

  /** Compare-and-set on the status; returns how many rows changed (0: someone decided first). */
  async decide(
    db: Db,
    id: string,
    data: { status: 'APPROVED' | 'REJECTED'; decidedByKeyId: string | null; decidedAt: Date; reason?: string },
  ): Promise<number> {
    const { count } = await db.withdrawal.updateMany({ where: { id, status: 'PENDING' }, data });
    return count;
  }

  /** The row locked until the transaction ends: a first and a second approval are taken in turn. */
  async lockForDecision(db: Db, id: string): Promise<Withdrawal | null> {
    await db.$queryRaw`SELECT id FROM withdrawals WHERE id = ${id}::uuid FOR UPDATE`;
    return db.withdrawal.findUnique({ where: { id } });
  }

  /** Records the first of two approvals (the row is locked by lockForDecision). */
  async recordFirstApproval(db: Db, id: string, data: { keyId: string; staffId: string; at: Date }): Promise<Withdrawal> {
    return db.withdrawal.update({
      where: { id },
      data: { firstApprovedByKeyId: data.keyId, firstApprovedByStaffId: data.staffId, firstApprovedAt: data.at },
    });
  }

  /** One page, newest first, before the (createdAt, id) of `before`: limit + 1 rows. */
  page(
    db: Db,
    filter: { memberId?: string; status?: WithdrawalStatus; before?: { createdAt: Date; id: string }; limit: number },
  ): Promise<Withdrawal[]> {
    const { before } = filter;
    return db.withdrawal.findMany({
      where: {
        memberId: filter.memberId,
        status: filter.status,
        ...(before ? { OR: [{ createdAt: { lt: before.createdAt } }, { createdAt: before.createdAt, id: { lt: before.id } }] } : {}),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: filter.limit + 1,
    });
  }

  pendingOf(db: Db, memberId: string): Promise<Withdrawal[]> {
    return db.withdrawal.findMany({ where: { memberId, status: 'PENDING' }, orderBy: { createdAt: 'asc' } });
  }

  member(db: Db, id: string): Promise<Member | null> {
    return db.member.findUnique({ where: { id } });
  }
}
