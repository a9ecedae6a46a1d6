import { Inject, Injectable, Logger } from '@nestjs/common';
import type { SettlementRun } from '../generated/prisma/client.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { HOUSE, memberAccount, type TransferRequest } from '../ledger/ledger.types.js';
import { multiplier } from '../markets/domain/contract-math.js';
import { marginPriceFen } from '../markets/margin.service.js';
import { MarketsRepository, type SeriesWithProduct } from '../markets/markets.repository.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { isoDate } from '../platform/time/business-date.js';
import { DailySettlementRepository, type SeriesLeg } from './daily-settlement.repository.js';
import { GuaranteeTopUp } from './guarantee-top-up.js';
import { RunCompletionService, type PostedTransfer } from './run-completion.service.js';
import { PortfolioAdjustmentsService } from './portfolio-adjustments.service.js';
import { hasPortfolioMargin } from '../markets/domain/risk-params.js';
import { SettlementPricesService } from './settlement-prices.service.js';
import { SettlementRunsRepository } from './settlement-runs.repository.js';

/** Longer than any daily run should take; a run that needs more fails and is retried whole. */
const RUN_TIMEOUT_MS = 30 * 60_000;

/**
 * A DAILY run over its set of series: prices derived for the whole set, then per range of
 * members one pass over positions and the day's trades gives each member's variation margin and
 * change of initial margin summed over the set — one VM transfer and one margin transfer per
 * member, however many series it holds. Everything happens in one transaction holding every
 * series' matching lock, up to the run's completion: a crash posts nothing and the retry computes
 * the same transfers (keys derive from the run's first series and the date, never from the
 * attempt), and no order can move a position or its margin while the margin price moves.
 */
@Injectable()
export class DailySettlementService {
  private readonly logger = new Logger(DailySettlementService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly repo: DailySettlementRepository,
    private readonly runs: SettlementRunsRepository,
    private readonly markets: MarketsRepository,
    private readonly prices: SettlementPricesService,
    private readonly ledger: LedgerService,
    private readonly completion: RunCompletionService,
    private readonly portfolio: PortfolioAdjustmentsService,
    private readonly guarantee: GuaranteeTopUp,
  ) {}

  /** Posts the run's transfers and completes it (margin calls, checksum), all in one transaction. */
  async settle(run: SettlementRun): Promise<SettlementRun> {
    const day = isoDate(run.businessDate);
    const total = await this.repo.memberCount(this.tx.root);
    return this.tx.run(
      async (tx) => {
        const ids = await this.repo.runSeriesIds(tx, run.id);
        await this.markets.lockSeriesMany(tx, ids);
        // Read under the locks: the margin price is what positions' margin is held at now.
        const series = await this.markets.seriesByIds(tx, ids);
        const prices = await this.prices.deriveMany(tx, series, day);
        await this.prices.storeMany(tx, day, prices);
        const legs = series.map((s) => this.leg(s, prices.get(s.id)!.priceFen, prices.get(s.id)!.previousFen, day));
        const base = `settle.DAILY.${series[0].id}.${day}`;
        // Products margined as portfolios: their adjustments are recomputed at the new prices.
        const portfolios = new Map(series.filter((s) => hasPortfolioMargin(s.product)).map((s) => [s.product.id, s.product]));
        const newMargin = new Map(legs.map((l) => [l.seriesId, l.newMarginFen]));
        this.logger.log({ run: run.id, businessDate: day, series: series.length, members: total }, 'daily settlement run started');

        const posted: PostedTransfer[] = [];
        // Per member holding margin in the run's series: the outrights held after it, per product.
        const heldFen = new Map<string, Map<string, bigint>>();
        let processed = 0;
        let cursor: string | null = null;
        for (;;) {
          const range = await this.repo.memberRange(tx, cursor, this.config.settlement.chunk);
          if (!range) break;
          const transfers: TransferRequest[] = [];
          const netted = await this.repo.netted(tx, legs, day, cursor, range.last);
          const moves = new Map(netted.map((r) => [r.memberId, { vm: r.vmFen, im: r.imFen }]));
          for (const r of netted) if (r.margined) heldFen.set(r.memberId, r.heldFen);
          if (portfolios.size > 0) {
            for (const [memberId, delta] of await this.portfolio.reprice(tx, { from: cursor, to: range.last }, newMargin, portfolios)) {
              const m = moves.get(memberId) ?? moves.set(memberId, { vm: 0n, im: 0n }).get(memberId)!;
              m.im += delta;
            }
          }
          for (const [memberId, m] of moves) transfers.push(...this.transfers(memberId, m.vm, m.im, base, day, run.id));
          await this.ledger.postBatch(tx, transfers);
          for (const t of transfers) posted.push({ key: t.idempotencyKey, debit: t.debit, credit: t.credit, amountFen: t.amountFen });
          cursor = range.last;
          processed += range.count;
          this.progress(run.id, processed, total);
        }
        // A small separate step: guarantee contributions topped up to their requirements.
        const topUps = await this.guarantee.transfers(tx, base, day, run.id);
        await this.ledger.postBatch(tx, topUps);
        for (const t of topUps) posted.push({ key: t.idempotencyKey, debit: t.debit, credit: t.credit, amountFen: t.amountFen });
        await this.repo.repriceSeries(
          tx,
          legs.map((l) => ({ seriesId: l.seriesId, priceFen: prices.get(l.seriesId)!.priceFen })),
          day,
        );
        const single = series.length === 1 ? prices.get(series[0].id)!.priceFen : null;
        const counted = await this.runs.update(tx, run.id, { priceFen: single, processedItems: processed, totalItems: total });
        const products = new Map(series.map((s) => [s.product.id, s.product]));
        const checksum = await this.completion.complete(tx, counted, posted, day, { seriesIds: ids, heldFen, products });
        return { ...counted, status: 'COMPLETED' as const, checksum };
      },
      // The netting pass is the statement over the JIT threshold: see TxOptions.jit.
      { timeout: RUN_TIMEOUT_MS, maxWait: 60_000, jit: false },
    );
  }

  /**
   * The margin moves from the price it is held at to the day's price, unless a later business
   * date already re-priced the series (a late run of an older date settles VM only).
   */
  private leg(s: SeriesWithProduct, priceFen: bigint, previousFen: bigint, day: string): SeriesLeg {
    const held = marginPriceFen(s);
    const reprice = s.lastSettlementDate === null || isoDate(s.lastSettlementDate) <= day;
    return {
      seriesId: s.id,
      productId: s.product.id,
      priceFen,
      previousFen,
      multiplier: multiplier(s.product.contractSizeTokens),
      oldMarginFen: held,
      newMarginFen: reprice ? priceFen : held,
      initialMarginBp: s.product.initialMarginBp,
    };
  }

  /** VM first (CCP ↔ cash), then margin (cash ↔ margin); both collected by right. */
  private transfers(memberId: string, vmFen: bigint, imFen: bigint, base: string, day: string, runId: string): TransferRequest[] {
    const cash = memberAccount(memberId, 'CASH');
    const margin = memberAccount(memberId, 'MARGIN');
    const out: TransferRequest[] = [];
    const common = { businessDate: day, refs: { settlementRunId: runId }, collectByRight: true };
    if (vmFen !== 0n)
      out.push({
        ...common,
        idempotencyKey: `${base}.vm.${memberId}`,
        kind: 'VARIATION_MARGIN',
        debit: vmFen > 0n ? HOUSE.ccpSettlement : cash,
        credit: vmFen > 0n ? cash : HOUSE.ccpSettlement,
        amountFen: vmFen > 0n ? vmFen : -vmFen,
      });
    if (imFen > 0n)
      out.push({
        ...common,
        idempotencyKey: `${base}.im.margin.${memberId}`,
        kind: 'MARGIN_LOCK',
        debit: cash,
        credit: margin,
        amountFen: imFen,
      });
    if (imFen < 0n)
      out.push({
        ...common,
        idempotencyKey: `${base}.im.margin.${memberId}`,
        kind: 'MARGIN_RELEASE',
        debit: margin,
        credit: cash,
        amountFen: -imFen,
      });
    return out;
  }

  /**
   * Outside the run's transaction, so it shows while the run works, and not awaited: the run
   * holds every series' lock, so orders waiting on those locks may hold every pooled connection
   * until it commits — waiting here for one would deadlock the pool. A write that lands after
   * the run completed changes nothing (status guard); a retry starts the count again.
   */
  private progress(runId: string, processed: number, total: number): void {
    this.runs
      .progressIfRunning(this.tx.root, runId, processed, total)
      .catch((err: Error) => this.logger.warn({ run: runId, err: err.message }, 'settlement progress not recorded'));
    this.logger.log({ run: runId, phase: 'NET', processed, total }, 'settlement progress');
  }
}
