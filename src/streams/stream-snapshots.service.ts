import { Injectable } from '@nestjs/common';
import { jobView, obligationView } from '../delivery/delivery-views.js';
import { MarketDataService } from '../markets/market-data.service.js';
import { MarketsRepository } from '../markets/markets.repository.js';
import { memberScope } from '../platform/auth/ownership.js';
import type { Principal } from '../platform/http/request-context.js';
import { formatFen } from '../platform/money/money.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { isoDate } from '../platform/time/business-date.js';
import { StreamError, type Channel, type JobEvent, type MarginCallEvent, type PublicTrade } from './stream-events.js';
import { StreamSnapshotsRepository } from './stream-snapshots.repository.js';

// Deepest book GET /v1/series/:code/book answers; deltas for deeper levels still apply.
const BOOK_DEPTH = 100;
const RECENT_TRADES = 50;
// A snapshot is a member's open set; past this the client pages the REST list instead.
const OPEN_ITEMS = 1_000;

/**
 * The first message of every subscription, read through the same services as the REST API
 * (book, series, orders) or, where no domain exports a read API yet (jobs, obligations, margin
 * calls, the public tape), through StreamSnapshotsRepository with the domains' own view functions.
 */
@Injectable()
export class StreamSnapshots {
  constructor(
    private readonly market: MarketDataService,
    private readonly markets: MarketsRepository,
    private readonly repo: StreamSnapshotsRepository,
    private readonly tx: TransactionRunner,
  ) {}

  async load(channel: Channel, series: string | undefined, principal: Principal | undefined): Promise<unknown> {
    switch (channel) {
      case 'book':
        return this.market.book(series!, BOOK_DEPTH);
      case 'series':
        return { items: series ? [await this.market.series(series)] : await this.market.allSeries() };
      case 'trades':
        return { items: await this.trades(await this.seriesId(series)) };
      case 'orders':
        return { items: await this.openOrders(principal!, series) };
      case 'jobs':
        return { items: await this.openJobs(principal!, await this.seriesId(series)) };
      case 'obligations':
        return { items: await this.openObligations(principal!, await this.seriesId(series)) };
      case 'margin-calls':
        return { items: await this.openMarginCalls(principal!) };
    }
  }

  private async seriesId(code: string | undefined): Promise<string | undefined> {
    if (code === undefined) return undefined;
    const id = await this.markets.seriesIdByCode(this.tx.root, code);
    if (!id) throw new StreamError('NOT_FOUND', `series ${code} not found`);
    return id;
  }

  private async trades(seriesId: string | undefined): Promise<PublicTrade[]> {
    const rows = await this.repo.recentTrades(this.tx.root, seriesId, RECENT_TRADES);
    const codes = await this.markets.seriesCodes(
      this.tx.root,
      rows.map((r) => r.seriesId),
    );
    return rows.map((t) => ({
      id: t.id,
      series: codes.get(t.seriesId)!,
      price: formatFen(t.priceFen),
      currency: 'CNY',
      quantity: t.quantity,
      block: t.block,
      createdAt: t.createdAt.toISOString(),
    }));
  }

  private async openOrders(p: Principal, series: string | undefined) {
    if (series !== undefined) await this.seriesId(series);
    const pages = await Promise.all(
      (['OPEN', 'PARTIALLY_FILLED'] as const).map((status) => this.market.orders(p, { status, series, limit: OPEN_ITEMS })),
    );
    return pages.flatMap((page) => page.items).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  private async openJobs(p: Principal, seriesId: string | undefined): Promise<JobEvent[]> {
    const rows = await this.repo.openJobs(this.tx.root, memberScope(p), seriesId, OPEN_ITEMS);
    const codes = await this.markets.seriesCodes(
      this.tx.root,
      rows.map((r) => r.seriesId),
    );
    return rows.map((r) => {
      // As the jobs channel's events show a job: no output, decision log or submission id.
      const {
        output: _o,
        decisions: _d,
        submissionId: _s,
        ...view
      } = jobView({ ...r, messages: null, output: null, decisions: [] }, codes.get(r.seriesId)!, null);
      return view;
    });
  }

  private async openObligations(p: Principal, seriesId: string | undefined) {
    const rows = await this.repo.openObligations(this.tx.root, memberScope(p), seriesId, OPEN_ITEMS);
    const codes = await this.markets.seriesCodes(
      this.tx.root,
      rows.map((r) => r.seriesId),
    );
    return rows.map((r) => obligationView(r, codes.get(r.seriesId)!));
  }

  private async openMarginCalls(p: Principal): Promise<MarginCallEvent[]> {
    const rows = await this.repo.openMarginCalls(this.tx.root, memberScope(p), OPEN_ITEMS);
    return rows.map((c) => ({
      id: c.id,
      memberId: c.memberId,
      runId: c.runId,
      businessDate: isoDate(c.businessDate),
      amount: formatFen(c.amountFen),
      currency: 'CNY',
      dueAt: c.dueAt.toISOString(),
      status: c.status,
      closedAt: c.closedAt?.toISOString() ?? null,
    }));
  }
}
