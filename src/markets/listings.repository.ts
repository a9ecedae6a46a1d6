import { Injectable } from '@nestjs/common';
import type { Product, SettlementType } from '../generated/prisma/client.js';
import type { SeriesStatus } from '../generated/prisma/enums.js';
import type { Db, Tx } from '../platform/prisma/prisma.service.js';
import type { SeriesWithProduct } from './markets.repository.js';

export interface NewProduct {
  code: string;
  modelClass: string;
  contractSizeTokens: bigint;
  tickFen: bigint;
  settlementType: SettlementType;
  initialMarginBp: number;
  maintenanceMarginBp: number;
  dailyPriceLimitBp: number | null;
  feePerContractFen: bigint;
  penaltyBp: number;
  maxTtftMs: number;
  minTokensPerSecond: number;
  regions: string[];
  inputTokenWeightBp: number;
  indexCode: string | null;
  spreadChargeBp: number | null;
  concentrationThresholdBp: number;
  concentrationAddOnBp: number;
  positionLimit: number | null;
  spotMonthLimit: number | null;
  circuitBreakerBp: number | null;
  circuitBreakerPauseSeconds: number;
  verificationBp?: number;
  verificationThresholdBp?: number;
}

export interface NewSeries {
  code: string;
  productId: string;
  tradingStartAt: Date;
  lastTradingAt: Date;
  deliveryStart: Date;
  deliveryEnd: Date;
  referencePriceFen: bigint;
  status: SeriesStatus;
}

/** Where a page of series (by last trading, then id) resumes. */
export interface SeriesKey {
  lastTradingAt: Date;
  id: string;
}

/** Products and series as listed, and the series' lifecycle status. */
@Injectable()
export class ListingsRepository {
  /** Fails with Prisma's P2002 when the code is taken. */
  createProduct(db: Db, data: NewProduct): Promise<Product> {
    return db.product.create({ data });
  }

  /** The model class a token index prices (a CASH product may settle on it), or null if there is no such index. */
  async tokenIndexModelClass(db: Db, code: string): Promise<string | null> {
    return (await db.tokenIndex.findUnique({ where: { code }, select: { modelClass: true } }))?.modelClass ?? null;
  }

  productByCode(db: Db, code: string): Promise<Product | null> {
    return db.product.findUnique({ where: { code } });
  }

  /** Products by code (unique), `limit + 1` of them after `afterCode`. */
  listProducts(db: Db, afterCode: string | undefined, limit: number): Promise<Product[]> {
    return db.product.findMany({
      where: afterCode === undefined ? undefined : { code: { gt: afterCode } },
      orderBy: { code: 'asc' },
      take: limit + 1,
    });
  }

  /** Fails with Prisma's P2002 when the code is taken. */
  createSeries(tx: Tx, data: NewSeries): Promise<SeriesWithProduct> {
    return tx.series.create({ data, include: { product: true } });
  }

  /** LISTED → TRADING; a series in any other status is left as it is. */
  async openSeries(db: Db, seriesId: string): Promise<void> {
    await db.series.updateMany({ where: { id: seriesId, status: 'LISTED' }, data: { status: 'TRADING' } });
  }

  /** LISTED or TRADING → EXPIRED; later statuses are left as they are. */
  async expireSeries(db: Db, seriesId: string): Promise<void> {
    await db.series.updateMany({ where: { id: seriesId, status: { in: ['LISTED', 'TRADING'] } }, data: { status: 'EXPIRED' } });
  }

  /** Series with their products by last trading (id breaks ties), `limit + 1` of them after `after`. */
  listSeries(db: Db, after: SeriesKey | undefined, limit: number): Promise<SeriesWithProduct[]> {
    return db.series.findMany({
      where: after
        ? { OR: [{ lastTradingAt: { gt: after.lastTradingAt } }, { lastTradingAt: after.lastTradingAt, id: { gt: after.id } }] }
        : undefined,
      include: { product: true },
      orderBy: [{ lastTradingAt: 'asc' }, { id: 'asc' }],
      take: limit + 1,
    });
  }

  /** Every series with its product, by last trading (the console's public board). */
  allSeries(db: Db): Promise<SeriesWithProduct[]> {
    return db.series.findMany({ include: { product: true }, orderBy: [{ lastTradingAt: 'asc' }, { id: 'asc' }] });
  }

  /**
   * Ends a circuit-breaker pause whose time has come and records RESUMED, in one statement; false
   * when already ended (a retried job), EARLY when it is not yet time.
   */
  async endPause(db: Db, seriesId: string, now: Date): Promise<boolean | 'EARLY'> {
    const [row] = await db.$queryRaw<{ state: string }[]>`
      WITH s AS (SELECT id, "pausedUntil" FROM series WHERE id = ${seriesId}::uuid),
      ended AS (
        UPDATE series SET "pausedUntil" = NULL FROM s
        WHERE series.id = s.id AND s."pausedUntil" IS NOT NULL AND s."pausedUntil" <= ${now}
        RETURNING series.id, s."pausedUntil" AS until, series."anchorPriceFen" AS anchor
      ),
      ev AS (
        INSERT INTO series_events (id, "seriesId", kind, "anchorFen", at) SELECT gen_random_uuid(), id, 'RESUMED', anchor, until FROM ended RETURNING 1
      )
      SELECT CASE WHEN EXISTS (SELECT 1 FROM ended) THEN 'ENDED'
                  WHEN (SELECT "pausedUntil" FROM s) IS NULL THEN 'NONE' ELSE 'EARLY' END AS state`;
    return row.state === 'ENDED' ? true : row.state === 'EARLY' ? 'EARLY' : false;
  }
}
