import { Injectable } from '@nestjs/common';
import type { Product } from '../generated/prisma/client.js';
import { productRisk } from '../markets/domain/risk-params.js';
import type { Db } from '../platform/prisma/prisma.service.js';
import { portfolioMargin, type SeriesLeg } from '../risk/domain/portfolio-margin.js';
import { RiskMarksRepository } from './risk-marks.repository.js';

/**
 * The daily run's portfolio margin: after the outrights move to the day's prices (in SQL, per
 * position), each member's adjustment in the run's portfolio products (spread credit,
 * concentration add-on) is recomputed exactly at those prices — whatever concurrent batches of
 * different series left behind — and the change joins the member's margin transfer.
 */
@Injectable()
export class PortfolioAdjustmentsService {
  constructor(private readonly repo: RiskMarksRepository) {}

  /** Per member of the range: the change of its adjustments (written), to add to its margin transfer. */
  async reprice(
    db: Db,
    range: { from: string | null; to: string },
    newMargin: Map<string, bigint>,
    products: Map<string, Product>,
  ): Promise<Map<string, bigint>> {
    const rows = (await this.repo.exposures(db, range)).filter((r) => products.has(r.productId));
    const legs = new Map<string, SeriesLeg[]>();
    for (const r of rows) {
      const key = `${r.memberId}:${r.productId}`;
      (legs.get(key) ?? legs.set(key, []).get(key)!).push({
        seriesId: r.seriesId,
        net: r.net,
        restingBuyQty: r.buy,
        restingSellQty: r.sell,
        priceFen: newMargin.get(r.seriesId) ?? r.marginFen,
        openInterest: r.openInterest,
      });
    }
    const members = [...new Set(rows.map((r) => r.memberId))];
    const held = await this.repo.adjustments(db, members);
    const changes: { memberId: string; productId: string; deltaFen: bigint }[] = [];
    for (const [key, l] of legs) {
      const [memberId, productId] = key.split(':');
      const m = portfolioMargin(l, productRisk(products.get(productId)!));
      const delta = m.totalFen - m.outrightFen - (held.get(key) ?? 0n);
      if (delta !== 0n) changes.push({ memberId, productId, deltaFen: delta });
    }
    await this.repo.addAdjustments(db, changes);
    const byMember = new Map<string, bigint>();
    for (const c of changes) byMember.set(c.memberId, (byMember.get(c.memberId) ?? 0n) + c.deltaFen);
    return byMember;
  }
}
