import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Audited } from '../platform/audit/audited.decorator.js';
import { CurrentPrincipal, Roles } from '../platform/auth/auth.decorators.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { isUuid } from '../platform/http/ids.js';
import type { Principal } from '../platform/http/request-context.js';
import { formatFen, parseAmount } from '../platform/money/money.js';
import { assertBusinessDate } from '../platform/http/params.js';
import { Clock } from '../platform/time/clock.js';
import { FixPriceDto, IndexFixingDto, MarginCallsQueryDto, RunsQueryDto, StartRunDto } from './dto/settlement.dto.js';
import { MarginCallsService } from './margin-calls.service.js';
import { PriceFixingsService } from './price-fixings.service.js';
import { RunStartService } from './run-start.service.js';
import { SettlementRunsService } from './settlement-runs.service.js';
import { SettlementStream } from './settlement-stream.service.js';
import { StatementsService } from './statements.service.js';

@ApiTags('settlement')
@ApiBearerAuth()
@Controller('v1')
export class SettlementController {
  constructor(
    private readonly runs: SettlementRunsService,
    private readonly starts: RunStartService,
    private readonly fixings: PriceFixingsService,
    private readonly calls: MarginCallsService,
    private readonly clock: Clock,
    private readonly statements: StatementsService,
    private readonly stream: SettlementStream,
  ) {}

  @Get('members/:id/statements/:businessDate')
  async statement(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Param('businessDate') businessDate: string,
    @Query('format') format: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ) {
    assertBusinessDate(businessDate);
    if (format !== undefined && format !== 'json' && format !== 'csv')
      throw new DomainError('VALIDATION_FAILED', 'format is json or csv', [{ field: 'format', message: 'json or csv' }]);
    const statement = await this.statements.statement(p, id, businessDate);
    if (format !== 'csv') return statement;
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="statement-${id}-${businessDate}.csv"`);
    return this.statements.toCsv(statement);
  }

  @Post('settlement/runs')
  @Roles('clearing')
  @Audited('settlement.run.start', 'settlement-run')
  async start(@CurrentPrincipal() p: Principal, @Body() body: StartRunDto) {
    assertBusinessDate(body.businessDate);
    // With a series, the run that settles it (for DAILY, possibly a run over a set of series).
    if (body.series) return (await this.runs.views([await this.starts.start(body.type, body.series, body.businessDate, p.keyId)]))[0];
    // One run for the whole set (plus runs already started for some of it): never more than a handful.
    return { items: await this.runs.views(await this.starts.startAll(body.type, body.businessDate, p.keyId)), nextCursor: null };
  }

  /** Runs of a business date, or of the last 24 hours without one. */
  @Get('settlement/runs')
  @Roles('clearing')
  list(@Query() q: RunsQueryDto) {
    assertBusinessDate(q.businessDate);
    return this.runs.page(q);
  }

  @Get('settlement/runs/:id')
  @Roles('clearing')
  async get(@Param('id') id: string) {
    const run = isUuid(id) ? await this.runs.get(id) : null;
    if (!run) throw new DomainError('NOT_FOUND', 'settlement run not found');
    const [view] = await this.runs.views([run]);
    // The one place a set run names its series: lists stay short, a run's page says what it covered.
    return { ...view, seriesCodes: await this.runs.seriesCodes(run, view) };
  }

  /** Clearing staff fix the day's price before its run; audited like every write. */
  @Post('series/:code/settlement-price')
  @Roles('clearing')
  @Audited('settlement.price.fix', 'series')
  async fix(@Param('code') code: string, @Body() body: FixPriceDto) {
    const priceFen = parseAmount(body.price, 'price');
    const businessDate = body.businessDate ?? this.clock.businessDate();
    assertBusinessDate(businessDate);
    await this.fixings.fixPrice(code, businessDate, priceFen);
    this.stream.priceFixed(code, businessDate, priceFen);
    return { series: code, businessDate, price: formatFen(priceFen), currency: 'CNY', method: 'FIXED' };
  }

  /** The final settlement price of a cash-settled series, with its source and as-of time. */
  @Post('series/:code/index-fixings')
  @Roles('clearing')
  @Audited('settlement.index-fixing.record', 'series')
  async indexFixing(@CurrentPrincipal() p: Principal, @Param('code') code: string, @Body() body: IndexFixingDto) {
    const priceFen = parseAmount(body.price, 'price');
    const fixing = await this.fixings.recordIndexFixing(code, {
      priceFen,
      source: body.source,
      asOf: new Date(body.asOf),
      createdBy: p.keyId,
    });
    return {
      id: fixing.id,
      series: code,
      price: formatFen(priceFen),
      currency: 'CNY',
      source: fixing.source,
      asOf: fixing.asOf.toISOString(),
    };
  }

  @Get('margin-calls')
  marginCalls(@CurrentPrincipal() p: Principal, @Query() q: MarginCallsQueryDto) {
    return this.calls.list(p, q);
  }
}
