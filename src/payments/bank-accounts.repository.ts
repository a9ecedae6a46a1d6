import { Injectable } from '@nestjs/common';
import type { BankAccount, Member } from '../generated/prisma/client.js';
import type { Db } from '../platform/prisma/prisma.service.js';

/** Members' bank accounts: proposed, then verified or rejected by a second person. */
@Injectable()
export class BankAccountsRepository {
  member(db: Db, id: string): Promise<Member | null> {
    return db.member.findUnique({ where: { id } });
  }

  create(
    db: Db,
    data: {
      memberId: string;
      bankCode: string;
      accountNumber: string;
      holderName: string;
      proposedByKeyId: string;
      proposedByStaffId: string | null;
    },
  ): Promise<BankAccount> {
    return db.bankAccount.create({ data });
  }

  find(db: Db, id: string): Promise<BankAccount | null> {
    return db.bankAccount.findUnique({ where: { id } });
  }

  /** Compare-and-set on the status; 0 rows: someone decided first. */
  async decide(
    db: Db,
    id: string,
    data: { status: 'VERIFIED' | 'REJECTED'; decidedByKeyId: string; decidedByStaffId: string; decidedAt: Date; reason?: string },
  ): Promise<number> {
    const { count } = await db.bankAccount.updateMany({ where: { id, status: 'PENDING' }, data });
    return count;
  }

  /** The account payouts go to: the most recently verified one. */
  latestVerified(db: Db, memberId: string): Promise<BankAccount | null> {
    return db.bankAccount.findFirst({
      where: { memberId, status: 'VERIFIED' },
      orderBy: [{ decidedAt: 'desc' }, { id: 'desc' }],
    });
  }

  /** Newest first; `after` is the previous page's last (createdAt, id). */
  page(db: Db, memberId: string, after: { createdAt: Date; id: string } | undefined, take: number): Promise<BankAccount[]> {
    return db.bankAccount.findMany({
      where: {
        memberId,
        ...(after ? { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] } : {}),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take,
    });
  }
}
