import { Inject, Injectable, Logger } from '@nestjs/common';
import type { SettlementRun } from '../generated/prisma/client.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { MarginService } from '../markets/margin.service.js';
import { MarketsRepository, type SeriesWithProduct } from '../markets/markets.repository.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { SettlementRunsRepository } from './settlement-runs.repository.js';
import { SettlementSeriesRepository } from './settlement-series.repository.js';
import { SettlementRepository } from './settlement.repository.js';

/**
 * The IM phase of an EXPIRY run: orders left are cancelled and all initial margin of the series
 * is released, in chunks of members that save the run's cursor.
 */
@Injectable()
export class ExpiryMarginRelease {
  private readonly logger = new Logger(ExpiryMarginRelease.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly members: SettlementRepository,
    private readonly series: SettlementSeriesRepository,
    private readonly runs: SettlementRunsRepository,
    private readonly markets: MarketsRepository,
    private readonly margin: MarginService,
    private readonly ledger: LedgerService,
  ) {}

  async run(run: SettlementRun, series: SeriesWithProduct, day: string, priceFen: bigint, base: string): Promise<SettlementRun> {
    await this.series.cancelRestingOrders(this.tx.root, series.id, 'SERIES_SETTLED');
    let cursor = run.cursorMemberId;
    for (;;) {
      const members = await this.members.marginMembers(this.tx.root, series.id, cursor, this.config.settlement.chunk);
      if (members.length === 0) break;
      cursor = members.at(-1)!.memberId;
      const id = run.id;
      const next = cursor;
      run = await this.tx.run(async (tx) => {
        await this.markets.lockSeries(tx, series.id);
        const transfers = (
          await this.margin.rebalanceMany(
            tx,
            series,
            members.map((m) => m.memberId),
            `${base}.im`,
            day,
            true,
          )
        ).map((t) => ({ ...t, refs: { settlementRunId: id }, collectByRight: true }));
        await this.ledger.postBatch(tx, transfers);
        return this.runs.update(tx, id, { cursorMemberId: next, processedItems: { increment: members.length } });
      });
      this.logger.log({ run: run.id, phase: 'IM', processed: run.processedItems }, 'settlement progress');
    }
    // Every position's margin is released at the price it was held at; the final price is the series' last.
    await this.series.setFinalPrice(this.tx.root, series.id, priceFen, day);
    const next = series.product.settlementType === 'PHYSICAL' ? 'ALLOC' : 'FINAL';
    return this.runs.update(this.tx.root, run.id, { phase: next, cursorMemberId: null });
  }
}
