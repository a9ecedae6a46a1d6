import { isoDate } from '../platform/time/business-date.js';
import { Injectable } from '@nestjs/common';
import type { Order, Product, Series, Trade } from '../generated/prisma/client.js';
import type { OrderStatus } from '../generated/prisma/enums.js';
import { memberScope } from '../platform/auth/ownership.js';
import { DomainError } from '../platform/errors/error-codes.js';
import type { Principal } from '../platform/http/request-context.js';
import { formatFen } from '../platform/money/money.js';
import { decodeCursor, toPage, type Page } from '../platform/pagination/page.js';
import { ReadDb } from '../platform/prisma/read-replica.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { Clock } from '../platform/time/clock.js';
import { heldMarginFen } from './margin.service.js';
import { ListingsRepository } from './listings.repository.js';
import { MarketDataRepository, type BookLevel } from './market-data.repository.js';
import { MarketsRepository, type SeriesWithProduct } from './markets.repository.js';

// An unknown series code in a list filter matches nothing (a uuid no row has), rather than everything.
const NO_SERIES = '00000000-0000-0000-0000-000000000000';

// Page cursors: orders and trades resume before a seq; series after (last trading ms, id); positions after (series, member).
const SEQ_CURSOR = /^\d{1,19}$/;
const SERIES_CURSOR = /^\d{1,15}\|[0-9a-f-]{36}$/;
const POSITION_CURSOR = /^[0-9a-f-]{36}\|[0-9a-f-]{36}$/;

const price = (fen: bigint | null | undefined) => (fen === null || fen === undefined ? null : formatFen(fen));

export function productView(p: Product) {
  return {
    code: p.code,
    modelClass: p.modelClass,
    contractSizeTokens: Number(p.contractSizeTokens),
    tickFen: Number(p.tickFen),
    tick: formatFen(p.tickFen),
    settlementType: p.settlementType,
    initialMarginBp: p.initialMarginBp,
    maintenanceMarginBp: p.maintenanceMarginBp,
    dailyPriceLimitBp: p.dailyPriceLimitBp,
    feePerContractFen: Number(p.feePerContractFen),
    feePerContract: formatFen(p.feePerContractFen),
    penaltyBp: p.penaltyBp,
    maxTtftMs: p.maxTtftMs,
    minTokensPerSecond: p.minTokensPerSecond,
    regions: p.regions,
    inputTokenWeightBp: p.inputTokenWeightBp,
    indexCode: p.indexCode,
    spreadChargeBp: p.spreadChargeBp,
    concentrationThresholdBp: p.concentrationThresholdBp,
    concentrationAddOnBp: p.concentrationAddOnBp,
    positionLimit: p.positionLimit,
    spotMonthLimit: p.spotMonthLimit,
    circuitBreakerBp: p.circuitBreakerBp,
    circuitBreakerPauseSeconds: p.circuitBreakerPauseSeconds,
    currency: 'CNY' as const,
  };
}

/** The status as of now: the halt job may lag by a moment, the clock does not. */
export function effectiveStatus(s: Series, now: Date): string {
  if ((s.status === 'LISTED' || s.status === 'TRADING') && now >= s.lastTradingAt) return 'EXPIRED';
  if (s.status === 'LISTED' && now >= s.tradingStartAt) return 'TRADING';
  return s.status;
}

export function seriesView(s: Series & { product: Product }, now: Date) {
  const status = effectiveStatus(s, now);
  // A circuit-breaker pause is shown as a status of its own; it ends by time (the resume job records it).
  const paused = status === 'TRADING' && s.pausedUntil !== null && now < s.pausedUntil;
  return {
    id: s.id,
    code: s.code,
    productCode: s.product.code,
    status: paused ? 'PAUSED' : status,
    pausedUntil: paused ? s.pausedUntil!.toISOString() : null,
    settlementType: s.product.settlementType,
    modelClass: s.product.modelClass,
    tradingStartAt: s.tradingStartAt.toISOString(),
    lastTradingAt: s.lastTradingAt.toISOString(),
    deliveryStart: s.deliveryStart.toISOString(),
    deliveryEnd: s.deliveryEnd.toISOString(),
    referencePrice: formatFen(s.referencePriceFen),
    lastSettlementPrice: price(s.lastSettlementPriceFen),
    currency: 'CNY' as const,
  };
}

export function orderView(o: Order, seriesCode: string, trades: Pick<Trade, 'id' | 'priceFen' | 'quantity'>[] = []) {
  return {
    id: o.id,
    series: seriesCode,
    memberId: o.memberId,
    side: o.side,
    price: formatFen(o.priceFen),
    currency: 'CNY' as const,
    quantity: o.quantity,
    filledQuantity: o.filledQuantity,
    status: o.status,
    timeInForce: o.timeInForce,
    clientOrderId: o.clientOrderId,
    cancelReason: o.cancelReason,
    createdAt: o.createdAt.toISOString(),
    trades: trades.map((t) => ({ id: t.id, price: formatFen(t.priceFen), quantity: t.quantity })),
  };
}

/** Market data and the members' own views of orders, trades and positions. */
@Injectable()
export class MarketDataService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly markets: MarketsRepository,
    private readonly listings: ListingsRepository,
    private readonly data: MarketDataRepository,
    private readonly clock: Clock,
    // Lists and market data may be a moment stale: the replica serves them when fresh enough.
    private readonly reads: ReadDb,
  ) {}

  async series(code: string) {
    const s = await this.markets.seriesByCode(this.tx.root, code);
    if (!s) throw new DomainError('NOT_FOUND', `series ${code} not found`);
    return (await this.withMarketData([s]))[0];
  }

  /** Every series with its product and today's market data (the public board), in one statement. */
  async allSeries() {
    return this.withMarketData(await this.listings.allSeries(this.tx.root));
  }

  private async withMarketData(rows: SeriesWithProduct[]) {
    const today = this.clock.businessDate();
    const now = this.clock.now();
    const stats = await this.reads.read((db) =>
      this.data.stats(
        db,
        rows.map((r) => r.id),
        today,
      ),
    );
    const byId = new Map(stats.map((x) => [x.id, x]));
    const events = await this.data.breakerEvents(
      this.tx.root,
      rows.filter((r) => r.product.circuitBreakerBp !== null).map((r) => r.id),
    );
    return rows.map((s) => {
      const x = byId.get(s.id)!;
      return {
        ...seriesView(s, now),
        product: productView(s.product),
        marketData: {
          bestBid: price(x.bestBid),
          bestAsk: price(x.bestAsk),
          last: price(x.last),
          volume: Number(x.volume),
          openInterest: Number(x.openInterest),
          lastSettlementPrice: price(s.lastSettlementPriceFen),
          businessDate: today,
          // Circuit-breaker pauses and resumes, newest first.
          circuitBreakerEvents: (events.get(s.id) ?? []).map((e) => ({
            kind: e.kind,
            at: e.at.toISOString(),
            price: price(e.priceFen),
            anchor: price(e.anchorFen),
          })),
        },
      };
    });
  }

  async products(q: { cursor?: string; limit: number }): Promise<Page<ReturnType<typeof productView>>> {
    const after = decodeCursor(q.cursor, /^[A-Z0-9][A-Z0-9-]{1,31}$/);
    const rows = await this.listings.listProducts(this.tx.root, after, q.limit);
    return toPage(rows, q.limit, (p) => p.code, productView);
  }

  /** Series by last trading (soonest first). */
  async listSeries(q: { cursor?: string; limit: number }): Promise<Page<ReturnType<typeof seriesView>>> {
    const after = decodeCursor(q.cursor, SERIES_CURSOR)?.split('|');
    const rows = await this.reads.read((db) =>
      this.listings.listSeries(db, after ? { lastTradingAt: new Date(Number(after[0])), id: after[1] } : undefined, q.limit),
    );
    const now = this.clock.now();
    return toPage(
      rows,
      q.limit,
      (s) => `${s.lastTradingAt.getTime()}|${s.id}`,
      (s) => seriesView(s, now),
    );
  }

  async book(code: string, levels: number) {
    const seriesId = await this.markets.seriesIdByCode(this.tx.root, code);
    if (!seriesId) throw new DomainError('NOT_FOUND', `series ${code} not found`);
    const [bids, asks] = await Promise.all([
      this.data.bookLevels(this.tx.root, seriesId, 'BUY', levels),
      this.data.bookLevels(this.tx.root, seriesId, 'SELL', levels),
    ]);
    const level = (l: BookLevel) => ({
      price: formatFen(l.priceFen),
      quantity: Number(l.quantity),
      orders: l.orders,
    });
    return { series: code, currency: 'CNY', bids: bids.map(level), asks: asks.map(level) };
  }

  async orders(
    p: Principal,
    q: { status?: OrderStatus; series?: string; cursor?: string; limit: number },
  ): Promise<Page<ReturnType<typeof orderView>>> {
    const before = decodeCursor(q.cursor, SEQ_CURSOR);
    const seriesId = await this.seriesFilter(q.series);
    const rows = await this.data.listOrders(
      this.tx.root,
      { memberId: memberScope(p), status: q.status, seriesId },
      before === undefined ? undefined : BigInt(before),
      q.limit,
    );
    const codes = await this.markets.seriesCodes(
      this.tx.root,
      rows.map((r) => r.seriesId),
    );
    return toPage(
      rows,
      q.limit,
      (o) => o.seq.toString(),
      (o) => orderView(o, codes.get(o.seriesId)!),
    );
  }

  /** Members see their own trades against the CCP (no counterparty); clearing staff see both sides. */
  async trades(p: Principal, q: { series?: string; cursor?: string; limit: number }) {
    const scope = memberScope(p);
    const before = decodeCursor(q.cursor, SEQ_CURSOR);
    const seriesId = await this.seriesFilter(q.series);
    const { rows, codes } = await this.reads.read(async (db) => {
      const rows = await this.data.listTrades(
        db,
        { memberId: scope, seriesId },
        before === undefined ? undefined : BigInt(before),
        q.limit,
      );
      return {
        rows,
        codes: await this.markets.seriesCodes(
          db,
          rows.map((r) => r.seriesId),
        ),
      };
    });
    return toPage(
      rows,
      q.limit,
      (t) => t.seq.toString(),
      (t) => ({
        id: t.id,
        series: codes.get(t.seriesId)!,
        price: formatFen(t.priceFen),
        currency: 'CNY',
        quantity: t.quantity,
        block: t.block,
        businessDate: isoDate(t.businessDate),
        createdAt: t.createdAt.toISOString(),
        ...(scope ? { side: t.buyerId === scope ? 'BUY' : 'SELL', counterparty: 'CCP' } : { buyerId: t.buyerId, sellerId: t.sellerId }),
      }),
    );
  }

  /** Members see their own positions; clearing staff every member's. By series, then member. */
  async positions(p: Principal, q: { series?: string; cursor?: string; limit: number }) {
    const after = decodeCursor(q.cursor, POSITION_CURSOR)?.split('|');
    const rows = await this.data.listPositions(
      this.tx.root,
      { memberId: memberScope(p), seriesId: await this.seriesFilter(q.series) },
      after ? { seriesId: after[0], memberId: after[1] } : undefined,
      q.limit,
    );
    const series = new Map((await this.markets.seriesByIds(this.tx.root, [...new Set(rows.map((r) => r.seriesId))])).map((s) => [s.id, s]));
    return toPage(
      rows,
      q.limit,
      (r) => `${r.seriesId}|${r.memberId}`,
      (r) => {
        const s = series.get(r.seriesId)!;
        return {
          series: s.code,
          memberId: r.memberId,
          long: r.longQty,
          short: r.shortQty,
          net: r.longQty - r.shortQty,
          marginHeld: formatFen(heldMarginFen(s, r.marginQty)),
          currency: 'CNY',
        };
      },
    );
  }

  private async seriesFilter(code: string | undefined): Promise<string | undefined> {
    return code === undefined ? undefined : ((await this.markets.seriesIdByCode(this.tx.root, code)) ?? NO_SERIES);
  }
}
