import { Injectable, Logger } from '@nestjs/common';
import type { SettlementRun } from '../generated/prisma/client.js';
import { AllocationService } from '../delivery/allocation.service.js';
import type { SeriesWithProduct } from '../markets/markets.repository.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { ExpiryMarginRelease } from './expiry-margin-release.service.js';
import { ExpiryVariationMargin } from './expiry-variation-margin.service.js';
import { FinalPriceService } from './final-price.service.js';
import { RunCompletionService } from './run-completion.service.js';
import { SettlementRunsRepository } from './settlement-runs.repository.js';

/**
 * An EXPIRY run, phase by phase from where it stands (VM → IM → ALLOC for a physical series →
 * FINAL): each phase saves its progress with what it posts, so a crashed run resumes.
 */
@Injectable()
export class ExpiryRunService {
  private readonly logger = new Logger(ExpiryRunService.name);

  constructor(
    private readonly tx: TransactionRunner,
    private readonly runs: SettlementRunsRepository,
    private readonly prices: FinalPriceService,
    private readonly variationMargin: ExpiryVariationMargin,
    private readonly marginRelease: ExpiryMarginRelease,
    private readonly allocation: AllocationService,
    private readonly completion: RunCompletionService,
  ) {}

  async execute(run: SettlementRun, series: SeriesWithProduct, day: string, base: string): Promise<{ status: string; checksum: string }> {
    // The price is taken once and kept with its source: a resumed run settles at the price it
    // started with, even if a fixing was recorded or corrected meanwhile.
    if (run.priceFen === null) {
      const price = await this.prices.finalPrice(series, day);
      run = await this.runs.update(this.tx.root, run.id, {
        priceFen: price.priceFen,
        priceSource: { method: price.method, ...price.details },
      });
    }
    const priceFen = run.priceFen!;
    this.logger.log(
      { run: run.id, series: series.code, businessDate: day, price: priceFen.toString(), source: run.priceSource, phase: run.phase },
      'settlement run started',
    );
    if (run.phase === 'VM') run = await this.variationMargin.run(run, series, day, priceFen, base, await this.prices.vmBasis(series, day));
    if (run.phase === 'IM') run = await this.marginRelease.run(run, series, day, priceFen, base);
    if (run.phase === 'ALLOC') run = await this.allocateDelivery(run, series, day, priceFen, base);
    return this.completion.finish(run, day);
  }

  /** PHYSICAL expiry, after the final VM and the margin release: allocation and escrow, one transaction. */
  private allocateDelivery(
    run: SettlementRun,
    series: SeriesWithProduct,
    day: string,
    priceFen: bigint,
    base: string,
  ): Promise<SettlementRun> {
    return this.tx.run(
      async (tx) => {
        const { obligations } = await this.allocation.allocateAndFund(tx, { runId: run.id, series, priceFen, businessDate: day, base });
        return this.runs.update(tx, run.id, { phase: 'FINAL', processedItems: { increment: obligations } });
      },
      { timeout: 120_000 },
    );
  }
}
