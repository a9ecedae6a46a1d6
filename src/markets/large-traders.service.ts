import { Injectable } from '@nestjs/common';
import { decodeCursor, toPage } from '../platform/pagination/page.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { Clock } from '../platform/time/clock.js';
import { inSpotMonth, LARGE_TRADER_BP, limitUsageBp } from '../risk/domain/limits.js';
import { worstCase } from '../risk/domain/portfolio-margin.js';
import { LargeTradersRepository, type LimitedExposure } from './large-traders.repository.js';

const CURSOR = /^[A-Z0-9][A-Z0-9-]{1,31}\|[0-9a-f-]{36}$/;

export interface LargeTrader {
  memberId: string;
  product: string;
  allMonths: { contracts: number; limit: number | null; usageBp: number | null };
  spotMonth: { series: string; contracts: number; limit: number; usageBp: number }[];
}

/**
 * Large-trader report (SPEC 6.3): members at ≥ 80 % of a position limit, counted as the limits
 * count (worst case of position plus resting orders), by product then member.
 */
@Injectable()
export class LargeTradersService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: LargeTradersRepository,
    private readonly clock: Clock,
  ) {}

  async list(q: { cursor?: string; limit: number }) {
    const after = decodeCursor(q.cursor, CURSOR);
    const now = this.clock.now();
    const groups = new Map<string, LimitedExposure[]>();
    for (const e of await this.repo.exposures(this.tx.root)) {
      const key = `${e.productCode}|${e.memberId}`;
      (groups.get(key) ?? groups.set(key, []).get(key)!).push(e);
    }
    const rows: (LargeTrader & { key: string })[] = [];
    for (const [key, list] of groups) {
      if (after !== undefined && key <= after) continue;
      const first = list[0];
      const contracts = list.reduce((n, e) => n + worstCase({ net: e.net, restingBuyQty: e.buy, restingSellQty: e.sell }), 0);
      const usage = limitUsageBp(contracts, first.positionLimit);
      const spotMonth = list
        .filter((e) => e.spotMonthLimit !== null && inSpotMonth(e.deliveryStart, now))
        .map((e) => {
          const n = worstCase({ net: e.net, restingBuyQty: e.buy, restingSellQty: e.sell });
          return { series: e.seriesCode, contracts: n, limit: e.spotMonthLimit!, usageBp: limitUsageBp(n, e.spotMonthLimit)! };
        })
        .filter((s) => s.usageBp >= LARGE_TRADER_BP);
      if ((usage ?? 0) < LARGE_TRADER_BP && spotMonth.length === 0) continue;
      rows.push({
        key,
        memberId: first.memberId,
        product: first.productCode,
        allMonths: { contracts, limit: first.positionLimit, usageBp: usage },
        spotMonth,
      });
      if (rows.length > q.limit) break;
    }
    return toPage(
      rows,
      q.limit,
      (r) => r.key,
      ({ key: _key, ...r }) => r,
    );
  }
}
