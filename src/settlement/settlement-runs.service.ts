import { Inject, Injectable, Logger } from '@nestjs/common';
import type { SettlementRun } from '../generated/prisma/client.js';
import type { SettlementRunType } from '../generated/prisma/enums.js';
import { AllocationService } from '../delivery/allocation.service.js';
import { WindowCloseService } from '../delivery/window-close.service.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { HOUSE, memberAccount, type TransferRequest } from '../ledger/ledger.types.js';
import { multiplier } from '../markets/domain/contract-math.js';
import { MarginService } from '../markets/margin.service.js';
import { MarketsRepository, type SeriesWithProduct } from '../markets/markets.repository.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { PrismaService } from '../platform/prisma/prisma.service.js';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import type { JobPayloads } from '../platform/queues/job-registry.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { addDays, businessDateOf, dateColumn, isoDate } from '../platform/time/business-date.js';
import { Clock } from '../platform/time/clock.js';
import { endOfBusinessDay, variationMarginFen } from './domain/settlement-math.js';
import { RunCompletionService } from './run-completion.service.js';
import { DailySettlementRepository } from './daily-settlement.repository.js';
import { DailySettlementService } from './daily-settlement.service.js';
import type { DerivedPrice } from './settlement-prices.service.js';
import type { SettlementRunView } from './settlement-run.view.js';
import { runView } from './settlement-views.js';
import { SettlementRepository } from './settlement.repository.js';

/**
 * Settlement runs. DAILY: one run per business date and set of series (no series in two runs of
 * a date), netted per member and atomic — `DailySettlementService`. EXPIRY and DELIVERY_CLOSE:
 * one per series; they post in chunks (each its own transaction, progress saved with it) and
 * resume from their cursor after a crash. Transfer keys derive from the run's identity, so a
 * resumed run and an uninterrupted one post the same transfers and end with one checksum.
 */
@Injectable()
export class SettlementRunsService {
  private readonly logger = new Logger(SettlementRunsService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly repo: SettlementRepository,
    private readonly markets: MarketsRepository,
    private readonly daily: DailySettlementService,
    private readonly dailyRepo: DailySettlementRepository,
    private readonly margin: MarginService,
    private readonly completion: RunCompletionService,
    private readonly ledger: LedgerService,
    private readonly outbox: OutboxService,
    private readonly clock: Clock,
    private readonly allocation: AllocationService,
    private readonly windowClose: WindowCloseService,
  ) {}

  /** Starts (or returns) the run for a series and date; the work happens in a worker job. */
  async start(type: SettlementRunType, seriesCode: string, businessDate: string | undefined, requestedBy?: string): Promise<SettlementRun> {
    const series = await this.markets.seriesByCode(this.prisma, seriesCode);
    if (!series) throw new DomainError('NOT_FOUND', `series ${seriesCode} not found`);
    let day: string;
    let phase = 'VM';
    if (type === 'EXPIRY') {
      if (this.clock.now() < series.lastTradingAt)
        throw new DomainError('SERIES_NOT_EXPIRED', `${series.code} trades until ${series.lastTradingAt.toISOString()}`);
      // A physical series falls back on its last settlement price; a cash one needs the index.
      if (series.product.settlementType === 'CASH' && !(await this.prisma.indexFixing.findFirst({ where: { seriesId: series.id } }))) {
        throw new DomainError('INDEX_FIXING_MISSING', `record the index fixing of ${series.code} first`);
      }
      day = businessDateOf(series.lastTradingAt, this.config.eodCutoff);
    } else if (type === 'DELIVERY_CLOSE') {
      if (series.product.settlementType !== 'PHYSICAL')
        throw new DomainError('SETTLEMENT_TYPE_MISMATCH', `${series.code} is cash-settled: there is no delivery window`);
      if (this.clock.now() < series.deliveryEnd)
        throw new DomainError('DELIVERY_WINDOW_OPEN', `${series.code} delivers until ${series.deliveryEnd.toISOString()}`);
      const expiry = await this.prisma.settlementRun.findFirst({ where: { type: 'EXPIRY', seriesId: series.id, status: 'COMPLETED' } });
      if (!expiry) throw new DomainError('SERIES_NOT_EXPIRED', `run the EXPIRY of ${series.code} (delivery allocation) first`);
      day = businessDateOf(series.deliveryEnd, this.config.eodCutoff);
      phase = 'CLOSE';
    } else if (type === 'DAILY') {
      day = this.endedBusinessDate(businessDate);
    } else {
      throw new DomainError('SETTLEMENT_TYPE_MISMATCH', `unknown run type ${type as string}`);
    }
    if (type === 'DAILY') return (await this.startDaily([series.id], day, requestedBy))[0];
    return this.prisma
      .$transaction(async (tx) => {
        const key = { type, businessDate: dateColumn(day), seriesId: series.id };
        const existing = await tx.settlementRun.findUnique({ where: { type_businessDate_seriesId: key } });
        if (existing) return existing;
        const run = await tx.settlementRun.create({ data: { ...key, requestedBy, phase } });
        await this.outbox.enqueue(tx, 'settlement.run', { runId: run.id }, { jobId: `settlement-run-${run.id}` });
        return run;
      })
      .finally(() => this.outbox.poke());
  }

  /**
   * The DAILY runs that settle these series on a date: the runs already started for some, and
   * one new run over the rest (a set of series settles as one run, netted per member). Starts of
   * the same date are serialised, so no series is ever in two runs of one date.
   */
  private async startDaily(seriesIds: string[], day: string, requestedBy?: string): Promise<SettlementRun[]> {
    return this.prisma
      .$transaction(async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`settlement-daily:${day}`}))`;
        const covered = await this.dailyRepo.covered(tx, seriesIds, day);
        const runIds = [...new Set(covered.values())];
        const runs =
          runIds.length === 0 ? [] : await tx.settlementRun.findMany({ where: { id: { in: runIds } }, orderBy: { createdAt: 'asc' } });
        const rest = [...new Set(seriesIds.filter((id) => !covered.has(id)))].sort();
        if (rest.length === 0) return runs;
        const run = await tx.settlementRun.create({ data: { type: 'DAILY', businessDate: dateColumn(day), requestedBy } });
        await this.dailyRepo.cover(tx, run.id, rest, day);
        await this.outbox.enqueue(tx, 'settlement.run', { runId: run.id }, { jobId: `settlement-run-${run.id}` });
        return [...runs, run];
      })
      .finally(() => this.outbox.poke());
  }

  /**
   * Without a series: every listed or trading series that had begun by that day's end, settled
   * as one run (plus any run already started for some of them that day).
   */
  async startAll(type: SettlementRunType, businessDate: string | undefined, requestedBy?: string): Promise<SettlementRun[]> {
    if (type !== 'DAILY')
      throw new DomainError('VALIDATION_FAILED', `${type} runs need a series`, [{ field: 'series', message: 'required for this type' }]);
    const day = this.endedBusinessDate(businessDate);
    const series = await this.prisma.series.findMany({
      where: { status: { in: ['LISTED', 'TRADING'] }, tradingStartAt: { lte: endOfBusinessDay(day, this.config.eodCutoff) } },
      select: { id: true },
    });
    if (series.length === 0) return [];
    return this.startDaily(
      series.map((s) => s.id),
      day,
      requestedBy,
    );
  }

  /** The business date a DAILY run settles (default: the one before today); it must have ended. */
  private endedBusinessDate(businessDate: string | undefined): string {
    const today = this.clock.businessDate();
    const day = businessDate ?? addDays(today, -1);
    if (day >= today)
      throw new DomainError(
        'BUSINESS_DAY_NOT_ENDED',
        `business date ${day} ends at ${endOfBusinessDay(day, this.config.eodCutoff).toISOString()}`,
      );
    return day;
  }

  /** Scheduled at lastTradingAt (PHYSICAL expiry) and deliveryEnd (window close). */
  @JobHandler('settlement.scheduled-run')
  async scheduled({ seriesId, type }: JobPayloads['settlement.scheduled-run']): Promise<{ runId: string }> {
    const series = await this.markets.seriesById(this.prisma, seriesId);
    if (!series) return { runId: '' };
    try {
      return { runId: (await this.start(type, series.code, undefined)).id };
    } catch (err) {
      // Not due by the service clock (or not applicable any more): clearing staff can start it.
      if (!(err instanceof DomainError)) throw err;
      this.logger.warn({ series: series.code, type, code: err.code, detail: err.detail }, 'scheduled settlement run not started');
      return { runId: '' };
    }
  }

  /** Runs of a business date (or created in the last 24 hours), newest first. */
  list(businessDate?: string): Promise<SettlementRun[]> {
    const where = businessDate ? { businessDate: dateColumn(businessDate) } : { createdAt: { gte: new Date(Date.now() - 24 * 3_600_000) } };
    return this.prisma.settlementRun.findMany({ where, orderBy: { createdAt: 'desc' }, take: 200 });
  }

  /**
   * Runs as the API shows them: a DAILY run names its series from its coverage rows (its code
   * when it settles one, else null and how many), the others from their series.
   */
  async views(runs: SettlementRun[]): Promise<SettlementRunView[]> {
    const coverage = await this.dailyRepo.coverage(
      this.prisma,
      runs.filter((r) => r.type === 'DAILY').map((r) => r.id),
    );
    const codes = await this.markets.seriesCodes(
      this.prisma,
      runs.flatMap((r) => (r.type !== 'DAILY' && r.seriesId ? [r.seriesId] : [])),
    );
    return runs.map((r) => {
      if (r.type !== 'DAILY') return runView(r, codes.get(r.seriesId!) ?? r.seriesId, 1);
      const c = coverage.get(r.id) ?? { count: 0, code: '' };
      return runView(r, c.count === 1 ? c.code : null, c.count);
    });
  }

  get(id: string): Promise<SettlementRun | null> {
    return this.prisma.settlementRun.findUnique({ where: { id } });
  }

  @JobHandler('settlement.run')
  async execute({ runId }: JobPayloads['settlement.run']): Promise<{ status: string; checksum: string | null }> {
    const claimed = await this.prisma.settlementRun.updateMany({
      where: { id: runId, status: { in: ['PENDING', 'RUNNING', 'FAILED'] } },
      data: { status: 'RUNNING', attempts: { increment: 1 }, startedAt: this.clock.now(), error: null },
    });
    let run = (await this.get(runId))!;
    if (claimed.count === 0) return { status: run.status, checksum: run.checksum };
    const day = isoDate(run.businessDate);
    try {
      if (run.type === 'DAILY') {
        const done = await this.daily.settle(run);
        this.outbox.poke();
        return { status: 'COMPLETED', checksum: done.checksum! };
      }
      const series = (await this.markets.seriesById(this.prisma, run.seriesId!))!;
      const base = `settle.${run.type}.${series.id}.${day}`;
      if (run.type === 'DELIVERY_CLOSE') return await this.closeDelivery(run, series, day, base);
      const price = await this.finalPrice(series, day);
      if (run.priceFen === null)
        run = await this.prisma.settlementRun.update({ where: { id: run.id }, data: { priceFen: price.priceFen } });
      this.logger.log(
        { run: run.id, series: series.code, businessDate: day, price: price.priceFen.toString(), method: price.method, phase: run.phase },
        'settlement run started',
      );
      if (run.phase === 'VM')
        run = await this.variationMargin(run, series, day, price.priceFen, base, await this.vmBasis(run, series, day));
      if (run.phase === 'IM') run = await this.releaseMargin(run, series, day, price.priceFen, base);
      if (run.phase === 'ALLOC') run = await this.allocateDelivery(run, series, day, price.priceFen, base);
      return await this.finish(run, day);
    } catch (err) {
      await this.prisma.settlementRun.update({
        where: { id: run.id },
        data: { status: 'FAILED', error: (err as Error).message.slice(0, 2000) },
      });
      throw err;
    }
  }

  /**
   * The final price: the latest index fixing recorded by clearing staff (required for a cash
   * series); a physical series without one takes its last daily settlement price.
   */
  private async finalPrice(series: SeriesWithProduct, day: string): Promise<Pick<DerivedPrice, 'priceFen' | 'method' | 'details'>> {
    const fixing = await this.prisma.indexFixing.findFirst({ where: { seriesId: series.id }, orderBy: { createdAt: 'desc' } });
    if (fixing) return { priceFen: fixing.priceFen, method: 'INDEX', details: { source: fixing.source, asOf: fixing.asOf.toISOString() } };
    if (series.product.settlementType === 'CASH')
      throw new DomainError('INDEX_FIXING_MISSING', `record the index fixing of ${series.code} first`);
    const last = (await this.repo.previousPrice(this.prisma, series.id, addDays(day, 1))) ?? series.referencePriceFen;
    return { priceFen: last, method: 'PREVIOUS', details: { from: 'last daily settlement price' } };
  }

  /** PHYSICAL expiry, after the final VM and the margin release: allocation and escrow, one transaction. */
  private async allocateDelivery(
    run: SettlementRun,
    series: SeriesWithProduct,
    day: string,
    priceFen: bigint,
    base: string,
  ): Promise<SettlementRun> {
    return this.prisma.$transaction(
      async (tx) => {
        const { obligations } = await this.allocation.allocateAndFund(tx, { runId: run.id, series, priceFen, businessDate: day, base });
        return tx.settlementRun.update({ where: { id: run.id }, data: { phase: 'FINAL', processedItems: { increment: obligations } } });
      },
      { timeout: 120_000 },
    );
  }

  /** DELIVERY_CLOSE: unfinished jobs fail, each obligation's remainder is paid out or refunded. */
  private async closeDelivery(
    run: SettlementRun,
    series: SeriesWithProduct,
    day: string,
    base: string,
  ): Promise<{ status: string; checksum: string | null }> {
    if (run.phase === 'CLOSE') {
      run = await this.prisma.$transaction(
        async (tx) => {
          const { closed } = await this.windowClose.close(tx, { runId: run.id, series, businessDate: day, base });
          return tx.settlementRun.update({ where: { id: run.id }, data: { phase: 'FINAL', processedItems: closed, totalItems: closed } });
        },
        { timeout: 120_000 },
      );
    }
    return this.finish(run, day);
  }

  /**
   * What the day's VM is measured from. Normally the previous settlement price. For a final
   * settlement whose business date already had its daily run, from that day's price, with the
   * day's trades already accounted for.
   */
  private async vmBasis(
    run: SettlementRun,
    series: SeriesWithProduct,
    day: string,
  ): Promise<{ prevPriceFen: bigint; afterDaily: boolean }> {
    const daily = await this.dailyRepo.coveringRun(this.prisma, series.id, day);
    if (daily?.status === 'COMPLETED') {
      const settled = await this.prisma.settlementPrice.findUnique({
        where: { seriesId_businessDate: { seriesId: series.id, businessDate: dateColumn(day) } },
      });
      if (settled) return { prevPriceFen: settled.priceFen, afterDaily: true };
    }
    return { prevPriceFen: (await this.repo.previousPrice(this.prisma, series.id, day)) ?? series.referencePriceFen, afterDaily: false };
  }

  private async variationMargin(
    run: SettlementRun,
    series: SeriesWithProduct,
    day: string,
    priceFen: bigint,
    base: string,
    basis: { prevPriceFen: bigint; afterDaily: boolean },
  ): Promise<SettlementRun> {
    const prev = basis.prevPriceFen;
    const mult = multiplier(series.product.contractSizeTokens);
    let cursor = run.cursorMemberId;
    for (;;) {
      const inputs = await this.repo.vmInputs(this.prisma, series.id, day, cursor, this.config.settlement.chunk);
      if (inputs.length === 0) break;
      const transfers: TransferRequest[] = [];
      for (const i of inputs) {
        const vm = basis.afterDaily
          ? variationMarginFen({
              netStart: i.netEnd,
              netEnd: i.netEnd,
              prevPriceFen: prev,
              priceFen,
              todaysSignedCostFen: 0n,
              multiplier: mult,
            })
          : variationMarginFen({
              netStart: i.netStart,
              netEnd: i.netEnd,
              prevPriceFen: prev,
              priceFen,
              todaysSignedCostFen: i.todaysSignedCostFen,
              multiplier: mult,
            });
        if (vm === 0n) continue;
        const cash = memberAccount(i.memberId, 'CASH');
        transfers.push({
          idempotencyKey: `${base}.vm.${i.memberId}`,
          debit: vm > 0n ? HOUSE.ccpSettlement : cash,
          credit: vm > 0n ? cash : HOUSE.ccpSettlement,
          amountFen: vm > 0n ? vm : -vm,
          kind: 'VARIATION_MARGIN',
          businessDate: day,
          refs: { settlementRunId: run.id },
          collectByRight: true,
        });
      }
      cursor = inputs.at(-1)!.memberId;
      run = await this.prisma.$transaction(async (tx) => {
        await this.ledger.postBatch(tx, transfers);
        return tx.settlementRun.update({
          where: { id: run.id },
          data: { cursorMemberId: cursor, processedItems: { increment: inputs.length } },
        });
      });
      this.logger.log({ run: run.id, phase: 'VM', processed: run.processedItems }, 'settlement progress');
    }
    return this.prisma.settlementRun.update({ where: { id: run.id }, data: { phase: 'IM', cursorMemberId: null } });
  }

  /** Final settlement: orders left are cancelled and all initial margin of the series is released. */
  private async releaseMargin(
    run: SettlementRun,
    series: SeriesWithProduct,
    day: string,
    priceFen: bigint,
    base: string,
  ): Promise<SettlementRun> {
    await this.prisma.order.updateMany({
      where: { seriesId: series.id, status: { in: ['OPEN', 'PARTIALLY_FILLED'] } },
      data: { status: 'CANCELLED', cancelReason: 'SERIES_SETTLED' },
    });
    let cursor = run.cursorMemberId;
    for (;;) {
      const members = await this.repo.marginMembers(this.prisma, series.id, cursor, this.config.settlement.chunk);
      if (members.length === 0) break;
      cursor = members.at(-1)!.memberId;
      run = await this.prisma.$transaction(async (tx) => {
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
        ).map((t) => ({
          ...t,
          refs: { settlementRunId: run.id },
          collectByRight: true,
        }));
        await this.ledger.postBatch(tx, transfers);
        return tx.settlementRun.update({
          where: { id: run.id },
          data: { cursorMemberId: cursor, processedItems: { increment: members.length } },
        });
      });
      this.logger.log({ run: run.id, phase: 'IM', processed: run.processedItems }, 'settlement progress');
    }
    // Every position's margin is released at the price it was held at; the final price is the series' last.
    await this.prisma.series.update({
      where: { id: series.id },
      data: { lastSettlementPriceFen: priceFen, lastSettlementDate: dateColumn(day) },
    });
    const next = series.product.settlementType === 'PHYSICAL' ? 'ALLOC' : 'FINAL';
    return this.prisma.settlementRun.update({ where: { id: run.id }, data: { phase: next, cursorMemberId: null } });
  }

  private async finish(run: SettlementRun, day: string): Promise<{ status: string; checksum: string }> {
    const rows = await this.repo.runTransfers(this.prisma, run.id);
    const checksum = await this.prisma.$transaction((tx) => this.completion.complete(tx, run, rows, day));
    this.outbox.poke();
    return { status: 'COMPLETED', checksum };
  }
}
