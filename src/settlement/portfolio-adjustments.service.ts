import { Injectable } from '@nestjs/common';
import type { Product } from '../generated/prisma/client.js';
import { productRisk } from '../markets/domain/risk-params.js';
import type { Db } from '../platform/prisma/prisma.service.js';
import { portfolioMarginOf } from '../risk/domain/portfolio-margin.js';
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
    // Every live series of these products, at the day's price where the run sets one and at its
    // margin price otherwise (a series of the product outside the run).
    const marks = (await this.repo.marks(db, 'margin', null))
      .filter((m) => products.has(m.productId))
      .map((m) => ({ ...m, priceFen: newMargin.get(m.id) ?? m.priceFen }));
    const rows = await this.repo.requirementSums(db, range, marks);
    const held = await this.repo.adjustments(db, [...new Set(rows.map((r) => r.memberId))]);
    const changes: { memberId: string; productId: string; deltaFen: bigint }[] = [];
    for (const r of rows) {
      const m = portfolioMarginOf(r.sums, productRisk(products.get(r.productId)!));
      const delta = m.totalFen - m.outrightFen - (held.get(`${r.memberId}:${r.productId}`) ?? 0n);
      if (delta !== 0n) changes.push({ memberId: r.memberId, productId: r.productId, deltaFen: delta });
    }
    await this.repo.addAdjustments(db, changes);
    const byMember = new Map<string, bigint>();
    for (const c of changes) byMember.set(c.memberId, (byMember.get(c.memberId) ?? 0n) + c.deltaFen);
    return byMember;
  }
}
