import { Injectable } from '@nestjs/common';
import type { Db } from '../platform/prisma/prisma.service.js';

// Read-only queries for stream snapshots that no other domain exports yet (delivery's and
// settlement's list services are module-private). Each is bounded: a snapshot is the open set,
// not a history.

@Injectable()
export class StreamSnapshotsRepository {
  /** Newest first, without member ids (the public tape). */
  recentTrades(db: Db, seriesId: string | undefined, limit: number) {
    return db.trade.findMany({
      where: seriesId ? { seriesId } : {},
      orderBy: { seq: 'desc' },
      take: limit,
      select: { id: true, seriesId: true, priceFen: true, quantity: true, block: true, createdAt: true },
    });
  }

  /** Jobs still in flight, for the buyer or the delivering operator (undefined member = all). */
  openJobs(db: Db, memberId: string | undefined, seriesId: string | undefined, limit: number) {
    return db.deliveryJob.findMany({
      where: {
        ...(memberId ? { OR: [{ buyerId: memberId }, { sellerId: memberId }] } : {}),
        ...(seriesId ? { seriesId } : {}),
        status: { in: ['QUEUED', 'DISPATCHED', 'LEASED'] },
      },
      omit: { messages: true, output: true, decisions: true },
      orderBy: { seq: 'asc' },
      take: limit,
    });
  }

  openObligations(db: Db, memberId: string | undefined, seriesId: string | undefined, limit: number) {
    return db.deliveryObligation.findMany({
      where: {
        ...(memberId ? { OR: [{ buyerId: memberId }, { sellerId: memberId }] } : {}),
        ...(seriesId ? { seriesId } : {}),
        status: { in: ['FUNDING', 'OPEN'] },
      },
      orderBy: [{ seriesId: 'asc' }, { seq: 'asc' }],
      take: limit,
    });
  }

  openMarginCalls(db: Db, memberId: string | undefined, limit: number) {
    return db.marginCall.findMany({
      where: { ...(memberId ? { memberId } : {}), status: 'OPEN' },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: limit,
    });
  }
}
