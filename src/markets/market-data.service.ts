import { isoDate } from '../platform/time/business-date.js';
import { Injectable } from '@nestjs/common';
import type { Order, Product, Series, Trade } from '../generated/prisma/client.js';
import type { OrderStatus } from '../generated/prisma/enums.js';
import { memberScope } from '../platform/auth/ownership.js';
import { DomainError } from '../platform/errors/error-codes.js';
import type { Principal } from '../platform/http/request-context.js';
import { formatFen } from '../platform/money/money.js';
import { decodeCursor, toPage, type Page } from '../platform/pagination/page.js';
import { PrismaService } from '../platform/prisma/prisma.service.js';
import { Clock } from '../platform/time/clock.js';
import { heldMarginFen } from './margin.service.js';
import { MarketsRepository, type SeriesWithProduct } from './markets.repository.js';

// An unknown series code in a list filter matches nothing (a uuid no row has), rather than everything.
const NO_SERIES = '00000000-0000-0000-0000-000000000000';

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
  return {
    id: s.id,
    code: s.code,
    productCode: s.product.code,
    status: effectiveStatus(s, now),
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
    private readonly prisma: PrismaService,
    private readonly markets: MarketsRepository,
    private readonly clock: Clock,
  ) {}

  async series(code: string) {
    const s = await this.prisma.series.findUnique({ where: { code }, include: { product: true } });
    if (!s) throw new DomainError('NOT_FOUND', `series ${code} not found`);
    return (await this.withMarketData([s]))[0];
  }

  /** Every series with its product and today's market data (the public board), in one statement. */
  async allSeries() {
    return this.withMarketData(await this.prisma.series.findMany({ include: { product: true }, orderBy: { lastTradingAt: 'asc' } }));
  }

  private async withMarketData(rows: SeriesWithProduct[]) {
    const today = this.clock.businessDate();
    const now = this.clock.now();
    const stats = await this.prisma.$queryRaw<
      { id: string; bestBid: bigint | null; bestAsk: bigint | null; last: bigint | null; volume: bigint; openInterest: bigint }[]
    >`
      SELECT s.id,
        (SELECT max("priceFen") FROM orders WHERE "seriesId" = s.id AND side = 'BUY' AND status IN ('OPEN','PARTIALLY_FILLED')) AS "bestBid",
        (SELECT min("priceFen") FROM orders WHERE "seriesId" = s.id AND side = 'SELL' AND status IN ('OPEN','PARTIALLY_FILLED')) AS "bestAsk",
        (SELECT "priceFen" FROM trades WHERE "seriesId" = s.id ORDER BY seq DESC LIMIT 1) AS last,
        (SELECT COALESCE(sum(quantity), 0) FROM trades WHERE "seriesId" = s.id AND "businessDate" = ${today}::date)::bigint AS volume,
        (SELECT COALESCE(sum(GREATEST("longQty" - "shortQty", 0)), 0) FROM positions WHERE "seriesId" = s.id)::bigint AS "openInterest"
      FROM unnest(${rows.map((r) => r.id)}::uuid[]) AS s(id)`;
    const byId = new Map(stats.map((x) => [x.id, x]));
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
        },
      };
    });
  }

  async listSeries() {
    const rows = await this.prisma.series.findMany({ include: { product: true }, orderBy: { lastTradingAt: 'asc' } });
    const now = this.clock.now();
    return rows.map((s) => seriesView(s, now));
  }

  async book(code: string, levels: number) {
    const s = await this.prisma.series.findUnique({ where: { code } });
    if (!s) throw new DomainError('NOT_FOUND', `series ${code} not found`);
    const side = (sideName: 'BUY' | 'SELL') =>
      this.prisma.$queryRaw<{ priceFen: bigint; quantity: bigint; orders: number }[]>`
        SELECT "priceFen", sum(quantity - "filledQuantity")::bigint AS quantity, count(*)::int AS orders FROM orders
        WHERE "seriesId" = ${s.id}::uuid AND side = ${sideName}::"Side" AND status IN ('OPEN','PARTIALLY_FILLED')
        GROUP BY "priceFen" ORDER BY CASE WHEN ${sideName} = 'BUY' THEN -"priceFen" ELSE "priceFen" END LIMIT ${levels}`;
    const [bids, asks] = await Promise.all([side('BUY'), side('SELL')]);
    const level = (l: { priceFen: bigint; quantity: bigint; orders: number }) => ({
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
    const before = decodeCursor(q.cursor, /^\d{1,19}$/);
    const seriesId = await this.seriesFilter(q.series);
    const rows = await this.prisma.order.findMany({
      where: { memberId: memberScope(p), status: q.status, seriesId, seq: before ? { lt: BigInt(before) } : undefined },
      orderBy: { seq: 'desc' },
      take: q.limit + 1,
    });
    const codes = await this.markets.seriesCodes(
      this.prisma,
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
    const before = decodeCursor(q.cursor, /^\d{1,19}$/);
    const seriesId = await this.seriesFilter(q.series);
    const rows = await this.prisma.trade.findMany({
      where: {
        seriesId,
        seq: before ? { lt: BigInt(before) } : undefined,
        ...(scope ? { OR: [{ buyerId: scope }, { sellerId: scope }] } : {}),
      },
      orderBy: { seq: 'desc' },
      take: q.limit + 1,
    });
    const codes = await this.markets.seriesCodes(
      this.prisma,
      rows.map((r) => r.seriesId),
    );
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

  async positions(p: Principal, seriesCode?: string) {
    const rows = await this.prisma.position.findMany({
      where: { memberId: memberScope(p), seriesId: await this.seriesFilter(seriesCode) },
      orderBy: [{ seriesId: 'asc' }, { memberId: 'asc' }],
    });
    const series = new Map((await this.markets.seriesByIds(this.prisma, [...new Set(rows.map((r) => r.seriesId))])).map((s) => [s.id, s]));
    return rows.map((r) => {
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
    });
  }

  private async seriesFilter(code: string | undefined): Promise<string | undefined> {
    return code === undefined ? undefined : ((await this.markets.seriesIdByCode(this.prisma, code)) ?? NO_SERIES);
  }
}
