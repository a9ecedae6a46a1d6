import { Controller, Get, Header, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Throttle } from '@nestjs/throttler';
import { CapacityViewService } from '../capacity/capacity-view.service.js';
import { MarketDataService } from '../markets/market-data.service.js';
import { Public, Roles } from '../platform/auth/auth.decorators.js';
import { assertBusinessDate } from '../platform/http/params.js';
import { formatFen } from '../platform/money/money.js';
import { PrismaService } from '../platform/prisma/prisma.service.js';
import { Queues } from '../platform/queues/queues.js';
import { QUEUE_NAMES } from '../platform/queues/job-registry.js';
import { dateColumn, isoDate } from '../platform/time/business-date.js';
import { Clock } from '../platform/time/clock.js';
import { adjustmentView } from '../reconciliation/adjustments.service.js';
import { runView } from '../settlement/settlement-views.js';
import { ConsoleRepository } from './console.repository.js';

@ApiTags('console')
@Controller('v1')
export class ConsoleController {
  constructor(
    private readonly repo: ConsoleRepository,
    private readonly market: MarketDataService,
    private readonly capacity: CapacityViewService,
    private readonly prisma: PrismaService,
    private readonly queues: Queues,
    private readonly clock: Clock,
  ) {}

  /**
   * The public market board's data: prices, volumes, open interest, settlement price history and
   * capacity by model class. No member ids, no balances, no orders. Rate-limited per address and
   * cacheable for a few seconds.
   */
  @Get('public/market')
  @Public()
  @Throttle({ default: { limit: 120, ttl: 60_000 } })
  @Header('Cache-Control', 'public, max-age=5')
  async publicMarket() {
    const series = await this.prisma.series.findMany({ orderBy: { lastTradingAt: 'asc' }, select: { id: true, code: true } });
    const [details, history, capacity] = await Promise.all([
      Promise.all(series.map((s) => this.market.series(s.code))),
      this.repo.settlementPriceHistory(series.map((s) => s.id)),
      this.capacity.aggregate({}),
    ]);
    const byModel = new Map<string, { modelClass: string; onlineNodes: number; tokensPerSecond: number; committedTokensPerSecond: number; availableTokensPerSecond: number }>();
    for (const c of capacity) {
      const m = byModel.get(c.modelClass) ?? { modelClass: c.modelClass, onlineNodes: 0, tokensPerSecond: 0, committedTokensPerSecond: 0, availableTokensPerSecond: 0 };
      m.onlineNodes += c.onlineNodes;
      m.tokensPerSecond += c.tokensPerSecond;
      m.committedTokensPerSecond += c.committedTokensPerSecond;
      m.availableTokensPerSecond += c.availableTokensPerSecond;
      byModel.set(c.modelClass, m);
    }
    return {
      asOf: this.clock.now().toISOString(),
      currency: 'CNY',
      series: details.map((d, i) => ({
        code: d.code,
        status: d.status,
        modelClass: d.product.modelClass,
        settlementType: d.product.settlementType,
        lastTradingAt: d.lastTradingAt,
        deliveryStart: d.deliveryStart,
        deliveryEnd: d.deliveryEnd,
        ...d.marketData,
        settlementPrices: history.filter((h) => h.seriesId === series[i].id).map((h) => ({ businessDate: isoDate(h.businessDate), price: formatFen(h.priceFen), method: h.method })),
      })),
      capacity: [...byModel.values()],
    };
  }

  /** Clearing staff's start page. */
  @Get('console/overview')
  @ApiBearerAuth()
  @Roles('clearing')
  async overview() {
    const today = this.clock.businessDate();
    const [total, calls, breaks, runs, depths] = await Promise.all([
      this.repo.trialBalanceFen(),
      this.repo.openMarginCalls(),
      this.repo.openBreaksByAge(),
      this.prisma.settlementRun.findMany({ where: { createdAt: { gte: new Date(Date.now() - 24 * 3_600_000) } }, orderBy: { createdAt: 'desc' }, take: 100 }),
      Promise.all(QUEUE_NAMES.map(async (name) => ({ queue: name, ...(await this.queues.get(name).getJobCounts('waiting', 'active', 'delayed', 'failed').catch(() => ({}))) }))),
    ]);
    const codes = new Map((await this.prisma.series.findMany({ where: { id: { in: runs.map((r) => r.seriesId) } }, select: { id: true, code: true } })).map((s) => [s.id, s.code]));
    return {
      businessDate: today,
      trialBalance: { total: formatFen(total), currency: 'CNY', balanced: total === 0n },
      marginCalls: { open: calls.count, overdue: calls.overdue, amount: formatFen(calls.amountFen), currency: 'CNY' },
      breaksByAge: breaks,
      runs: runs.map((r) => runView(r, codes.get(r.seriesId) ?? r.seriesId)),
      queues: depths,
    };
  }

  @Get('settlement/runs')
  @ApiBearerAuth()
  @Roles('clearing')
  async runs(@Query('businessDate') businessDate?: string) {
    assertBusinessDate(businessDate);
    const rows = await this.prisma.settlementRun.findMany({ where: businessDate ? { businessDate: dateColumn(businessDate) } : {}, orderBy: { createdAt: 'desc' }, take: 200 });
    const codes = new Map((await this.prisma.series.findMany({ where: { id: { in: rows.map((r) => r.seriesId) } }, select: { id: true, code: true } })).map((s) => [s.id, s.code]));
    return { items: rows.map((r) => runView(r, codes.get(r.seriesId) ?? r.seriesId)), nextCursor: null };
  }

  @Get('adjustments')
  @ApiBearerAuth()
  @Roles('clearing')
  async adjustments(@Query('status') status?: string) {
    const statuses = ['PENDING', 'APPROVED', 'REJECTED'] as const;
    const where = statuses.find((s) => s === status) ? { status: status as (typeof statuses)[number] } : {};
    return { items: (await this.prisma.adjustment.findMany({ where, orderBy: { createdAt: 'desc' }, take: 200 })).map(adjustmentView), nextCursor: null };
  }
}
