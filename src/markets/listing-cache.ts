import { Injectable } from '@nestjs/common';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { MarketsRepository, type SeriesWithProduct } from './markets.repository.js';

/**
 * Series with their products as listed, cached in the process. Only `status`,
 * `lastSettlementPriceFen` and `lastSettlementDate` of a series ever change after listing (a
 * product never does): callers that depend on those read them under the series lock; everything
 * else here (codes, windows, contract terms) is safe to reuse. Misses are not cached.
 */
@Injectable()
export class ListingCache {
  private readonly byCode = new Map<string, SeriesWithProduct>();
  private readonly byId = new Map<string, SeriesWithProduct>();

  constructor(
    private readonly tx: TransactionRunner,
    private readonly markets: MarketsRepository,
  ) {}

  async seriesByCode(code: string): Promise<SeriesWithProduct | null> {
    return this.byCode.get(code) ?? this.remember(await this.markets.seriesByCode(this.tx.root, code));
  }

  async seriesById(id: string): Promise<SeriesWithProduct | null> {
    return this.byId.get(id) ?? this.remember(await this.markets.seriesById(this.tx.root, id));
  }

  private remember(series: SeriesWithProduct | null): SeriesWithProduct | null {
    if (series) {
      this.byCode.set(series.code, series);
      this.byId.set(series.id, series);
    }
    return series;
  }
}
