import { Injectable } from '@nestjs/common';
import type { SeriesStatus } from '../generated/prisma/enums.js';
import type { Db, Tx } from '../platform/prisma/prisma.service.js';
import { dateColumn } from '../platform/time/business-date.js';

/**
 * What settlement reads and writes of other domains' tables (series, orders, delivery
 * obligations) — kept here, next to the runs that need it, rather than widening those domains'
 * repositories with settlement's questions.
 */
@Injectable()
export class SettlementSeriesRepository {
  /** Listed or trading series that had begun by `startedBy`: what a DAILY run without a series settles. */
  async dailyEligible(db: Db, startedBy: Date): Promise<string[]> {
    const rows = await db.series.findMany({
      where: { status: { in: ['LISTED', 'TRADING'] }, tradingStartAt: { lte: startedBy } },
      select: { id: true },
    });
    return rows.map((s) => s.id);
  }

  /** At final settlement every resting order of the series is cancelled. */
  async cancelRestingOrders(db: Db, seriesId: string, reason: string): Promise<void> {
    await db.order.updateMany({
      where: { seriesId, status: { in: ['OPEN', 'PARTIALLY_FILLED'] } },
      data: { status: 'CANCELLED', cancelReason: reason },
    });
  }

  /** The final price becomes the series' last settlement price, whatever date priced it before. */
  async setFinalPrice(db: Db, seriesId: string, priceFen: bigint, businessDate: string): Promise<void> {
    await db.series.update({
      where: { id: seriesId },
      data: { lastSettlementPriceFen: priceFen, lastSettlementDate: dateColumn(businessDate) },
    });
  }

  async setStatus(tx: Tx, seriesId: string, status: SeriesStatus): Promise<void> {
    await tx.series.update({ where: { id: seriesId }, data: { status } });
  }

  /** Delivery obligations of the series not closed yet. */
  openObligations(tx: Tx, seriesId: string): Promise<number> {
    return tx.deliveryObligation.count({ where: { seriesId, status: { not: 'CLOSED' } } });
  }
}
