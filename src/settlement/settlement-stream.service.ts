import type { MarginCall } from '../generated/prisma/client.js';
import { Injectable, Logger } from '@nestjs/common';
import { obligationView } from '../delivery/delivery-views.js';
import { formatFen } from '../platform/money/money.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { isoDate } from '../platform/time/business-date.js';
import type { StreamEvent } from '../streams/stream-events.js';
import { StreamPublisher } from '../streams/stream-publisher.js';
import { SettlementStreamRepository } from './settlement-stream.repository.js';

/**
 * Settlement's side of /v1/stream, once a run has committed: each series' settlement price
 * (`series`), the status an EXPIRY or DELIVERY_CLOSE run moved its series to, the series'
 * obligations those runs allocated or settled (`obligations`, for buyer and seller), and the
 * margin calls the run opened or closed (`margin-calls`, for their member). Read back from the database,
 * so what is published is what committed; never fails the run.
 */
@Injectable()
export class SettlementStream {
  private readonly logger = new Logger(SettlementStream.name);
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: SettlementStreamRepository,
    private readonly publisher: StreamPublisher,
  ) {}

  afterRun(runId: string): void {
    this.tail = this.tail
      .then(async () => this.publisher.publish(await this.events(runId)))
      .catch((err: unknown) =>
        this.logger.warn({ err: err instanceof Error ? err.message : String(err), runId }, 'settlement run not published on /v1/stream'),
      );
  }

  /** Clearing fixed a series' price for a business date (committed): on `series` at once, before any run uses it. */
  priceFixed(seriesCode: string, businessDate: string, priceFen: bigint): void {
    this.publisher.publishAfterCommit({
      channel: 'series',
      series: seriesCode,
      data: { kind: 'settlement-price', businessDate, price: formatFen(priceFen), currency: 'CNY', method: 'FIXED', final: false },
    });
  }

  /** Waits for every run enqueued so far (tests). */
  idle(): Promise<void> {
    return this.tail;
  }

  /** Calls a deposit's close job closed (`since`: when the job began), to their member. */
  afterCallsClosed(memberId: string, since: Date): void {
    void this.repo
      .closedCallsOf(this.tx.root, memberId, since)
      .then((calls) => this.publisher.publish(calls.map(marginCallEvent)))
      .catch((err: Error) => this.logger.warn({ err: err.message, memberId }, 'margin-call events not published; the database has them'));
  }

  private async events(runId: string): Promise<StreamEvent[]> {
    const run = await this.repo.run(this.tx.root, runId);
    if (!run || run.status !== 'COMPLETED') return [];
    const series = await this.repo.seriesOfRun(this.tx.root, run.id, run.seriesId);
    const [prices, calls] = await Promise.all([
      this.repo.prices(
        this.tx.root,
        series.map((s) => s.id),
        run.businessDate,
      ),
      this.repo.marginCalls(this.tx.root, run.id, run.startedAt ?? run.createdAt),
    ]);
    const at = new Date().toISOString();
    const businessDate = isoDate(run.businessDate);
    const events: StreamEvent[] = [];
    for (const s of series) {
      const price = prices.find((p) => p.seriesId === s.id);
      if (price)
        events.push({
          channel: 'series',
          series: s.code,
          data: {
            kind: 'settlement-price',
            businessDate,
            price: formatFen(price.priceFen),
            currency: 'CNY',
            method: price.method,
            final: run.type !== 'DAILY',
          },
        });
      if (run.type !== 'DAILY') events.push({ channel: 'series', series: s.code, data: { kind: 'status', status: s.status, at } });
    }
    if (run.type !== 'DAILY')
      for (const s of series)
        for (const o of await this.repo.obligations(this.tx.root, s.id))
          events.push({ channel: 'obligations', series: s.code, memberIds: [o.buyerId, o.sellerId], data: obligationView(o, s.code) });
    for (const c of calls) events.push(marginCallEvent(c));
    return events;
  }
}

function marginCallEvent(c: MarginCall): StreamEvent {
  return {
    channel: 'margin-calls',
    memberIds: [c.memberId],
    data: {
      id: c.id,
      memberId: c.memberId,
      runId: c.runId,
      businessDate: isoDate(c.businessDate),
      amount: formatFen(c.amountFen),
      currency: 'CNY',
      dueAt: c.dueAt.toISOString(),
      status: c.status,
      closedAt: c.closedAt?.toISOString() ?? null,
    },
  };
}
