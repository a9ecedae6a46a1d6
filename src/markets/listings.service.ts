import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Product } from '../generated/prisma/client.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { parseAmount } from '../platform/money/money.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import type { JobPayloads } from '../platform/queues/job-registry.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { Clock } from '../platform/time/clock.js';
import type { CreateProductDto, CreateSeriesDto } from './dto/markets.dto.js';
import { ListingsRepository } from './listings.repository.js';
import { MarginService } from './margin.service.js';
import { MarketStream } from './market-stream.service.js';
import { MarketsRepository, type SeriesWithProduct } from './markets.repository.js';
import { OrdersService } from './orders.service.js';

/** Products and series: listing by clearing staff, and the time-driven series lifecycle. */
@Injectable()
export class ListingsService {
  private readonly logger = new Logger(ListingsService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly listings: ListingsRepository,
    private readonly repo: MarketsRepository,
    private readonly outbox: OutboxService,
    private readonly margin: MarginService,
    private readonly orders: OrdersService,
    private readonly clock: Clock,
    private readonly stream: MarketStream,
  ) {}

  async createProduct(dto: CreateProductDto): Promise<Product> {
    const bad = (m: string, field: string): never => {
      throw new DomainError('INVALID_PRODUCT', m, [{ field, message: m }]);
    };
    if (!this.config.modelClasses.includes(dto.modelClass)) {
      throw new DomainError('UNKNOWN_MODEL_CLASS', `model class must be one of ${this.config.modelClasses.join(', ')}`, [
        { field: 'modelClass', message: 'unknown' },
      ]);
    }
    for (const r of dto.regions)
      if (!this.config.regions.includes(r))
        throw new DomainError('UNKNOWN_REGION', `unknown region ${r}`, [{ field: 'regions', message: 'unknown region' }]);
    if (new Set(dto.regions).size !== dto.regions.length) bad('regions are listed twice', 'regions');
    if (dto.contractSizeTokens % 1_000_000 !== 0) bad('contractSizeTokens must be a whole multiple of 1,000,000', 'contractSizeTokens');
    if (dto.maintenanceMarginBp > dto.initialMarginBp) bad('maintenance margin cannot exceed initial margin', 'maintenanceMarginBp');
    if (dto.indexCode !== undefined) {
      if (dto.settlementType !== 'CASH') bad('only a CASH product settles on an index', 'indexCode');
      const indexClass = await this.listings.tokenIndexModelClass(this.tx.root, dto.indexCode);
      if (!indexClass)
        throw new DomainError('UNKNOWN_INDEX', `no token index ${dto.indexCode}`, [{ field: 'indexCode', message: 'unknown' }]);
      if (indexClass !== dto.modelClass) bad(`index ${dto.indexCode} prices ${indexClass}, not ${dto.modelClass}`, 'indexCode');
    }
    if (dto.spreadChargeBp !== undefined && dto.spreadChargeBp > dto.initialMarginBp)
      bad('a spread charge above the initial margin would never apply', 'spreadChargeBp');
    if (dto.spotMonthLimit !== undefined && dto.positionLimit !== undefined && dto.spotMonthLimit > dto.positionLimit)
      bad('the spot-month limit cannot exceed the all-months limit', 'spotMonthLimit');
    try {
      return await this.listings.createProduct(this.tx.root, {
        code: dto.code,
        modelClass: dto.modelClass,
        contractSizeTokens: BigInt(dto.contractSizeTokens),
        tickFen: BigInt(dto.tickFen),
        settlementType: dto.settlementType,
        initialMarginBp: dto.initialMarginBp,
        maintenanceMarginBp: dto.maintenanceMarginBp,
        dailyPriceLimitBp: dto.dailyPriceLimitBp ?? null,
        feePerContractFen: BigInt(dto.feePerContractFen),
        penaltyBp: dto.penaltyBp,
        maxTtftMs: dto.maxTtftMs,
        minTokensPerSecond: dto.minTokensPerSecond,
        regions: dto.regions,
        inputTokenWeightBp: dto.inputTokenWeightBp,
        indexCode: dto.indexCode ?? null,
        spreadChargeBp: dto.spreadChargeBp ?? null,
        concentrationThresholdBp: dto.concentrationThresholdBp ?? 10_000,
        concentrationAddOnBp: dto.concentrationAddOnBp ?? 0,
        positionLimit: dto.positionLimit ?? null,
        spotMonthLimit: dto.spotMonthLimit ?? null,
        circuitBreakerBp: dto.circuitBreakerBp ?? null,
        circuitBreakerPauseSeconds: dto.circuitBreakerPauseSeconds ?? 120,
        verificationBp: dto.verificationBp ?? 200,
        verificationThresholdBp: dto.verificationThresholdBp ?? 9_000,
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002') throw new DomainError('PRODUCT_EXISTS');
      throw err;
    }
  }

  /** Lists a series; its opening and halt are scheduled through the outbox in the same transaction. */
  async createSeries(dto: CreateSeriesDto): Promise<SeriesWithProduct> {
    const product = await this.listings.productByCode(this.tx.root, dto.productCode);
    if (!product) throw new DomainError('NOT_FOUND', `product ${dto.productCode} not found`);
    const referencePriceFen = parseAmount(dto.referencePrice, 'referencePrice');
    if (referencePriceFen % product.tickFen !== 0n)
      throw new DomainError('OFF_TICK', 'referencePrice is not on the tick', [{ field: 'referencePrice', message: 'off tick' }]);
    const now = this.clock.now();
    const tradingStartAt = dto.tradingStartAt ? new Date(dto.tradingStartAt) : now;
    const [lastTradingAt, deliveryStart, deliveryEnd] = [dto.lastTradingAt, dto.deliveryStart, dto.deliveryEnd].map((d) => new Date(d));
    const bad = (m: string, field: string): never => {
      throw new DomainError('INVALID_SERIES', m, [{ field, message: m }]);
    };
    if (lastTradingAt <= tradingStartAt) bad('lastTradingAt must be after tradingStartAt', 'lastTradingAt');
    if (lastTradingAt <= now) bad('lastTradingAt must be in the future', 'lastTradingAt');
    if (deliveryStart < lastTradingAt) bad('the delivery window starts after last trading', 'deliveryStart');
    if (deliveryEnd <= deliveryStart) bad('deliveryEnd must be after deliveryStart', 'deliveryEnd');
    try {
      return await this.tx.run(async (tx) => {
        const series = await this.listings.createSeries(tx, {
          code: dto.code,
          productId: product.id,
          tradingStartAt,
          lastTradingAt,
          deliveryStart,
          deliveryEnd,
          referencePriceFen,
          status: tradingStartAt <= now ? 'TRADING' : 'LISTED',
        });
        if (tradingStartAt > now) {
          await this.outbox.enqueue(
            tx,
            'markets.series-open',
            { seriesId: series.id },
            { jobId: `series-open-${series.id}`, notBefore: tradingStartAt },
          );
        }
        await this.outbox.enqueue(
          tx,
          'markets.series-halt',
          { seriesId: series.id },
          { jobId: `series-halt-${series.id}`, notBefore: lastTradingAt },
        );
        if (product.settlementType === 'PHYSICAL') {
          // Delivery allocation at last trading, the window close at its end. A cash series waits
          // for clearing staff's index fixing, so its final settlement is started by them.
          await this.outbox.enqueue(
            tx,
            'settlement.scheduled-run',
            { seriesId: series.id, type: 'EXPIRY' },
            { jobId: `expiry-run-${series.id}`, notBefore: lastTradingAt },
          );
          await this.outbox.enqueue(
            tx,
            'settlement.scheduled-run',
            { seriesId: series.id, type: 'DELIVERY_CLOSE' },
            { jobId: `delivery-close-${series.id}`, notBefore: deliveryEnd },
          );
        }
        return series;
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002') throw new DomainError('SERIES_EXISTS');
      throw err;
    }
  }

  @JobHandler('markets.series-open')
  async open({ seriesId }: JobPayloads['markets.series-open']): Promise<void> {
    await this.listings.openSeries(this.tx.root, seriesId);
  }

  /** The end of a circuit-breaker pause, recorded once (orders already trade again from `pausedUntil`). */
  @JobHandler('markets.resume-series')
  async resume({ seriesId }: JobPayloads['markets.resume-series']): Promise<{ resumed: boolean }> {
    const resumed = await this.listings.endPause(this.tx.root, seriesId, this.clock.now());
    if (resumed === 'EARLY') throw new Error(`series ${seriesId} is still paused: retried with backoff`);
    if (resumed) this.logger.log({ series: seriesId }, 'circuit-breaker pause ended');
    return { resumed: resumed === true };
  }

  /**
   * Trading halts at lastTradingAt: the series is EXPIRED, resting orders cancelled, and each
   * affected member's margin brought down to its position alone. Idempotent (a retry finds
   * nothing left to cancel and no margin to move).
   */
  @JobHandler('markets.series-halt')
  async halt({ seriesId }: JobPayloads['markets.series-halt']): Promise<{ cancelled: number }> {
    const series = await this.repo.seriesById(this.tx.root, seriesId);
    if (!series) return { cancelled: 0 };
    if (this.clock.now() < series.lastTradingAt) {
      // Ran early (clock skew, manual trigger): BullMQ retries with backoff until it is time.
      throw new Error(`series ${series.code} halts at ${series.lastTradingAt.toISOString()}`);
    }
    const halted = await this.tx.run(async (tx) => {
      await this.repo.lockSeries(tx, seriesId);
      await this.listings.expireSeries(tx, seriesId);
      const resting = await this.repo.restingOrders(tx, seriesId);
      await this.repo.cancelOrders(
        tx,
        resting.map((o) => o.id),
        'SERIES_HALTED',
      );
      const businessDate = this.clock.businessDate();
      const members = [...new Set(resting.map((o) => o.memberId))].sort();
      await this.orders.post(tx, await this.margin.rebalanceMany(tx, series, members, `halt.${seriesId}`, businessDate));
      this.logger.log({ series: series.code, cancelled: resting.length }, 'series halted');
      return resting;
    });
    this.stream.afterHalt(series, halted);
    return { cancelled: halted.length };
  }
}
