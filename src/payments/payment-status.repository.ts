import { Injectable } from '@nestjs/common';
import type { PaymentInstruction, PaymentStatusEntry, PaymentStatusReport, Prisma } from '../generated/prisma/client.js';
import type { Db, Tx } from '../platform/prisma/prisma.service.js';

// Status report imports never overlap: two copies of one report could both return its rejections.
const STATUS_REPORT_LOCK = 727_277;

/** pain.002 status reports and what each transaction status did to our instructions. */
@Injectable()
export class PaymentStatusRepository {
  reportByHash(db: Db, fileHash: string): Promise<PaymentStatusReport | null> {
    return db.paymentStatusReport.findUnique({ where: { fileHash } });
  }

  /** Held until the transaction ends. */
  async lock(tx: Tx): Promise<void> {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${STATUS_REPORT_LOCK})`;
  }

  createReport(
    db: Db,
    data: { fileHash: string; messageId: string; originalMessageId: string; transactions: number; uploadedBy?: string },
  ): Promise<PaymentStatusReport> {
    return db.paymentStatusReport.create({ data });
  }

  /** The instructions named, locked so a camt.053 import or another report cannot decide them meanwhile. */
  async instructionsForUpdate(tx: Tx, endToEndIds: string[]): Promise<PaymentInstruction[]> {
    if (endToEndIds.length === 0) return [];
    const ids = await tx.$queryRaw<{ id: string }[]>`
      SELECT id FROM payment_instructions WHERE "endToEndId" = ANY(${endToEndIds}::text[]) ORDER BY id FOR UPDATE`;
    return tx.paymentInstruction.findMany({ where: { id: { in: ids.map((r) => r.id) } } });
  }

  /** From INSTRUCTED (or ACCEPTED, for a later rejection) only: a statement's confirmation is never undone. */
  async setInstructionStatus(db: Db, ids: string[], status: 'ACCEPTED' | 'REJECTED'): Promise<void> {
    if (ids.length === 0) return;
    await db.paymentInstruction.updateMany({
      where: { id: { in: ids }, status: { in: status === 'ACCEPTED' ? ['INSTRUCTED'] : ['INSTRUCTED', 'ACCEPTED'] } },
      data: { status, updatedAt: new Date() },
    });
  }

  /** The member's withdrawals paid out by the instruction (approved, paid on its date) become REJECTED. */
  async rejectPaidWithdrawals(db: Db, instruction: { memberId: string; businessDate: string }, reason: string): Promise<string[]> {
    const rows = await db.$queryRaw<{ id: string }[]>`
      UPDATE withdrawals w SET status = 'REJECTED', reason = ${reason.slice(0, 500)}
      FROM transfers t
      WHERE t."withdrawalId" = w.id AND t.kind = 'WITHDRAWAL' AND t."businessDate" = ${instruction.businessDate}::date
        AND w."memberId" = ${instruction.memberId}::uuid AND w.status = 'APPROVED'
      RETURNING w.id`;
    return rows.map((r) => r.id);
  }

  async createEntries(db: Db, entries: Prisma.PaymentStatusEntryCreateManyInput[]): Promise<void> {
    await db.paymentStatusEntry.createMany({ data: entries });
  }

  entries(db: Db, reportId: string): Promise<PaymentStatusEntry[]> {
    return db.paymentStatusEntry.findMany({ where: { reportId }, orderBy: { position: 'asc' } });
  }
}
