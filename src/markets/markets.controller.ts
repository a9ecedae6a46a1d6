import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { AuditRecorder } from '../platform/audit/audit-recorder.js';
import { Audited } from '../platform/audit/audited.decorator.js';
import { CurrentPrincipal, Roles } from '../platform/auth/auth.decorators.js';
import type { Principal, TcRequest } from '../platform/http/request-context.js';
import { idForRequest } from '../platform/idempotency/deterministic-id.js';
import { formatFen, parseAmount } from '../platform/money/money.js';
import { Clock } from '../platform/time/clock.js';
import { BlockTradesService } from './block-trades.service.js';
import {
  BlockTradeDto,
  BookQueryDto,
  CreateProductDto,
  CreateSeriesDto,
  OrdersQueryDto,
  PlaceOrderDto,
  PositionsQueryDto,
  TradesQueryDto,
} from './dto/markets.dto.js';
import { ListingsService } from './listings.service.js';
import { MarketDataService, orderView, productView, seriesView } from './market-data.service.js';
import { ListingCache } from './listing-cache.js';
import { OrderBatcher } from './order-batcher.js';
import { OrdersService } from './orders.service.js';
import { LargeTradersService } from './large-traders.service.js';
import { PageQueryDto } from '../platform/pagination/page.js';

@ApiTags('markets')
@ApiBearerAuth()
@Controller('v1')
export class MarketsController {
  constructor(
    private readonly listings: ListingsService,
    private readonly ordersService: OrdersService,
    private readonly batcher: OrderBatcher,
    private readonly auditRecorder: AuditRecorder,
    private readonly blocks: BlockTradesService,
    private readonly data: MarketDataService,
    private readonly listed: ListingCache,
    private readonly clock: Clock,
    private readonly largeTraders: LargeTradersService,
  ) {}

  @Post('products')
  @Roles('clearing')
  @Audited('markets.product.create', 'product')
  async createProduct(@Body() body: CreateProductDto) {
    return productView(await this.listings.createProduct(body));
  }

  @Get('products')
  listProducts(@Query() q: PageQueryDto) {
    return this.data.products({ cursor: q.cursor, limit: q.limit ?? 50 });
  }

  @Post('series')
  @Roles('clearing')
  @Audited('markets.series.create', 'series')
  async createSeries(@Body() body: CreateSeriesDto) {
    return seriesView(await this.listings.createSeries(body), this.clock.now());
  }

  @Get('series')
  listSeries(@Query() q: PageQueryDto) {
    return this.data.listSeries({ cursor: q.cursor, limit: q.limit ?? 50 });
  }

  @Get('series/:code')
  series(@Param('code') code: string) {
    return this.data.series(code);
  }

  @Get('series/:code/book')
  book(@Param('code') code: string, @Query() q: BookQueryDto) {
    return this.data.book(code, q.levels ?? 10);
  }

  @Post('orders')
  @Roles('operator', 'buyer', 'trader')
  @Audited('markets.order.place', 'order')
  async place(
    @CurrentPrincipal() p: Principal,
    @Body() body: PlaceOrderDto,
    @Req() req: TcRequest,
    @Headers('idempotency-key') key?: string,
  ) {
    const priceFen = parseAmount(body.price, 'price');
    const { order, trades, audited } = await this.batcher.place(p, {
      seriesCode: body.series,
      side: body.side,
      priceFen,
      quantity: body.quantity,
      timeInForce: body.timeInForce,
      clientOrderId: body.clientOrderId,
      id: idForRequest('order', p.memberId, key),
      // Committed with the order, before the response: an accepted order is answered 201.
      audit: this.auditRecorder.entry(req, { outcome: 'SUCCESS', httpStatus: 201 }),
    });
    req.auditedInTransaction = audited;
    return orderView(order, body.series, trades);
  }

  @Delete('orders/:id')
  @HttpCode(200)
  @Roles('operator', 'buyer', 'trader', 'clearing')
  @Audited('markets.order.cancel', 'order')
  async cancel(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    const order = await this.ordersService.cancel(p, id);
    // A series' code never changes after listing: the listing cache may answer.
    const series = await this.listed.seriesById(order.seriesId);
    return orderView(order, series!.code);
  }

  @Get('orders')
  listOrders(@CurrentPrincipal() p: Principal, @Query() q: OrdersQueryDto) {
    return this.data.orders(p, { status: q.status, series: q.series, cursor: q.cursor, limit: q.limit ?? 50 });
  }

  @Get('trades')
  trades(@CurrentPrincipal() p: Principal, @Query() q: TradesQueryDto) {
    return this.data.trades(p, { series: q.series, cursor: q.cursor, limit: q.limit ?? 50 });
  }

  @Post('block-trades')
  @Roles('clearing')
  @Audited('markets.block-trade', 'trade')
  async block(@Body() body: BlockTradeDto) {
    const trade = await this.blocks.register({
      seriesCode: body.series,
      buyerId: body.buyerId,
      sellerId: body.sellerId,
      priceFen: parseAmount(body.price, 'price'),
      quantity: body.quantity,
    });
    return {
      id: trade.id,
      series: body.series,
      buyerId: trade.buyerId,
      sellerId: trade.sellerId,
      price: formatFen(trade.priceFen),
      currency: 'CNY',
      quantity: trade.quantity,
      block: true,
      businessDate: trade.businessDate,
    };
  }

  @Get('positions')
  positions(@CurrentPrincipal() p: Principal, @Query() q: PositionsQueryDto) {
    return this.data.positions(p, { series: q.series, cursor: q.cursor, limit: q.limit ?? 50 });
  }

  /** Members at 80 % or more of a position limit (all-months or spot-month). */
  @Roles('clearing')
  @Get('reports/large-traders')
  largeTraderReport(@Query() q: PageQueryDto) {
    return this.largeTraders.list({ cursor: q.cursor, limit: q.limit ?? 50 });
  }
}
