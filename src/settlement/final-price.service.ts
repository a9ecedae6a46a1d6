import { Injectable } from '@nestjs/common';
import { IndexQueriesService } from '../indices/index-queries.service.js';
import type { SeriesWithProduct } from '../markets/markets.repository.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { addDays } from '../platform/time/business-date.js';
import { DailySettlementRepository } from './daily-settlement.repository.js';
import type { DerivedPrice } from './settlement-prices.service.js';
import { SettlementRepository } from './settlement.repository.js';

/** What a final settlement (EXPIRY) settles at, and what its last variation margin is measured from. */
@Injectable()
export class FinalPriceService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly prices: SettlementRepository,
    private readonly daily: DailySettlementRepository,
    private readonly indices: IndexQueriesService,
  ) {}

  /**
   * The final price: the latest index fixing recorded by clearing staff; else, for a cash series
   * whose product names a token index, that index's effective fixing of the last trading date
   * (`day`); a physical series without one takes its last daily settlement price. `details` say
   * which, and the EXPIRY run keeps them as its `priceSource`.
   */
  async finalPrice(series: SeriesWithProduct, day: string): Promise<Pick<DerivedPrice, 'priceFen' | 'method' | 'details'>> {
    const fixing = await this.prices.latestIndexFixing(this.tx.root, series.id);
    if (fixing)
      return {
        priceFen: fixing.priceFen,
        method: 'INDEX',
        details: { from: 'CLEARING_FIXING', fixingId: fixing.id, source: fixing.source, asOf: fixing.asOf.toISOString() },
      };
    if (series.product.settlementType === 'CASH') {
      const index = series.product.indexCode ? await this.indices.effectiveOn(series.product.indexCode, day) : null;
      if (index)
        return {
          priceFen: index.priceFen,
          method: 'INDEX',
          details: {
            from: 'TOKEN_INDEX',
            index: index.indexCode,
            fixingId: index.id,
            businessDate: index.businessDate,
            fixingMethod: index.method,
            hash: index.hash ?? '',
          },
        };
      throw new DomainError(
        'INDEX_FIXING_MISSING',
        series.product.indexCode
          ? `no fixing of ${series.product.indexCode} for ${day} and none recorded for ${series.code}`
          : `record the index fixing of ${series.code} first`,
      );
    }
    const last = (await this.prices.previousPrice(this.tx.root, series.id, addDays(day, 1))) ?? series.referencePriceFen;
    return { priceFen: last, method: 'PREVIOUS', details: { from: 'last daily settlement price' } };
  }

  /**
   * What the day's VM is measured from. Normally the previous settlement price. For a final
   * settlement whose business date already had its daily run, from that day's price, with the
   * day's trades already accounted for.
   */
  async vmBasis(series: SeriesWithProduct, day: string): Promise<{ prevPriceFen: bigint; afterDaily: boolean }> {
    const daily = await this.daily.coveringRun(this.tx.root, series.id, day);
    if (daily?.status === 'COMPLETED') {
      const settled = await this.prices.storedPrice(this.tx.root, series.id, day);
      if (settled) return { prevPriceFen: settled.priceFen, afterDaily: true };
    }
    return { prevPriceFen: (await this.prices.previousPrice(this.tx.root, series.id, day)) ?? series.referencePriceFen, afterDaily: false };
  }
}
