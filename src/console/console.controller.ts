import { Controller, Get, Header } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Throttle } from '@nestjs/throttler';
import { CapacityViewService } from '../capacity/capacity-view.service.js';
import { MarketDataService } from '../markets/market-data.service.js';
import { Public, Roles } from '../platform/auth/auth.decorators.js';
import { formatFen } from '../platform/money/money.js';
import { Queues } from '../platform/queues/queues.js';
import { QUEUE_NAMES } from '../platform/queues/job-registry.js';
import { isoDate } from '../platform/time/business-date.js';
import { Clock } from '../platform/time/clock.js';
import { ConsoleRepository } from './console.repository.js';

@ApiTags('console')
@Controller('v1')
export class ConsoleController {
  constructor(
    private readonly repo: ConsoleRepository,
    private readonly market: MarketDataService,
    private readonly capacity: CapacityViewService,
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
    const [details, capacity] = await Promise.all([this.market.allSeries(), this.capacity.aggregate({})]);
    const history = await this.repo.settlementPriceHistory(details.map((d) => d.id));
    const byModel = new Map<
      string,
      {
        modelClass: string;
        onlineNodes: number;
        tokensPerSecond: number;
        committedTokensPerSecond: number;
        availableTokensPerSecond: number;
      }
    >();
    for (const c of capacity) {
      const m = byModel.get(c.modelClass) ?? {
        modelClass: c.modelClass,
        onlineNodes: 0,
        tokensPerSecond: 0,
        committedTokensPerSecond: 0,
        availableTokensPerSecond: 0,
      };
      m.onlineNodes += c.onlineNodes;
      m.tokensPerSecond += c.tokensPerSecond;
      m.committedTokensPerSecond += c.committedTokensPerSecond;
      m.availableTokensPerSecond += c.availableTokensPerSecond;
      byModel.set(c.modelClass, m);
    }
    return {
      asOf: this.clock.now().toISOString(),
      currency: 'CNY',
      series: details.map((d) => ({
        code: d.code,
        status: d.status,
        modelClass: d.product.modelClass,
        settlementType: d.product.settlementType,
        lastTradingAt: d.lastTradingAt,
        deliveryStart: d.deliveryStart,
        deliveryEnd: d.deliveryEnd,
        ...d.marketData,
        settlementPrices: history
          .filter((h) => h.seriesId === d.id)
          .map((h) => ({ businessDate: isoDate(h.businessDate), price: formatFen(h.priceFen), method: h.method })),
      })),
      capacity: [...byModel.values()],
    };
  }

  /**
   * Clearing staff's start page: counts and totals only. The day's settlement runs are a list of
   * their own (GET /v1/settlement/runs, paged), which the page reads beside this.
   */
  @Get('console/overview')
  @ApiBearerAuth()
  @Roles('clearing')
  async overview() {
    const today = this.clock.businessDate();
    const [total, calls, breaks, depths] = await Promise.all([
      this.repo.trialBalanceFen(),
      this.repo.openMarginCalls(),
      this.repo.openBreaksByAge(),
      Promise.all(
        QUEUE_NAMES.map(async (name) => ({
          queue: name,
          ...(await this.queues
            .get(name)
            .getJobCounts('waiting', 'active', 'delayed', 'failed')
            .catch(() => ({}))),
        })),
      ),
    ]);
    return {
      businessDate: today,
      trialBalance: { total: formatFen(total), currency: 'CNY', balanced: total === 0n },
      marginCalls: { open: calls.count, overdue: calls.overdue, amount: formatFen(calls.amountFen), currency: 'CNY' },
      breaksByAge: breaks,
      queues: depths,
    };
  }
}
