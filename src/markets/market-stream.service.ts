import { Injectable, Logger } from '@nestjs/common';
import type { Order } from '../generated/prisma/client.js';
import { formatFen } from '../platform/money/money.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import type { StreamEvent } from '../streams/stream-events.js';
import { StreamPublisher } from '../streams/stream-publisher.js';
import { orderView } from './market-data.service.js';
import { MarketStreamRepository, type LevelKey } from './market-stream.repository.js';
import type { NewTrade } from './markets.repository.js';

/** What the market publishes about one committed change. */
export interface MarketChange {
  /** Series code by id, for every series the change touched. */
  codes: ReadonlyMap<string, string>;
  trades: readonly NewTrade[];
  /** Orders whose state changed (placed, filled, cancelled). */
  orderIds: readonly string[];
  /** Price levels whose resting quantity changed, per series id. */
  levels: ReadonlyMap<string, LevelKey[]>;
  /** Published with the change, after what is read back (a series' new status). */
  also?: StreamEvent[];
}

/**
 * The market's side of /v1/stream, called once a change has committed: book deltas (each touched
 * level's new total, read back), the trades, and every changed order for its member. One read
 * and publish at a time, in call order (changes that commit meanwhile go together), so one
 * process publishes in commit order; the DB clock as the delta version orders the deltas of
 * several API copies. Never fails the caller: the database is the record.
 */
@Injectable()
export class MarketStream {
  private readonly logger = new Logger(MarketStream.name);
  private pending: MarketChange[] = [];
  private draining: Promise<void> | undefined;

  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: MarketStreamRepository,
    private readonly publisher: StreamPublisher,
  ) {}

  /** A matched batch: `outcomes` as the batcher answers them, `listed` its series by id. */
  afterBatch(outcomes: readonly unknown[], listed: ReadonlyMap<string, { code: string }>): void {
    const placed = outcomes.filter((o): o is { order: Order; trades: NewTrade[] } => typeof o === 'object' && o !== null && 'order' in o);
    if (placed.length === 0) return;
    const levels = new Map<string, LevelKey[]>();
    const touch = (seriesId: string, key: LevelKey) => {
      const list = levels.get(seriesId) ?? levels.set(seriesId, []).get(seriesId)!;
      if (!list.some((k) => k.side === key.side && k.priceFen === key.priceFen)) list.push(key);
    };
    const orderIds = new Set<string>();
    for (const { order, trades } of placed) {
      orderIds.add(order.id);
      touch(order.seriesId, { side: order.side, priceFen: order.priceFen });
      for (const t of trades) {
        // The resting side of each fill lost quantity at the trade's price.
        const resting = order.side === 'BUY' ? t.sellOrderId : t.buyOrderId;
        if (resting) orderIds.add(resting);
        touch(t.seriesId, { side: order.side === 'BUY' ? 'SELL' : 'BUY', priceFen: t.priceFen });
      }
    }
    const codes = new Map([...levels.keys()].map((id) => [id, listed.get(id)!.code]));
    this.enqueue({ codes, trades: placed.flatMap((p) => p.trades), orderIds: [...orderIds], levels });
  }

  /** An order cancelled by its member or clearing. */
  afterCancel(order: Order, seriesCode: string): void {
    this.enqueue({
      codes: new Map([[order.seriesId, seriesCode]]),
      trades: [],
      orderIds: [order.id],
      levels: new Map([[order.seriesId, [{ side: order.side, priceFen: order.priceFen }]]]),
    });
  }

  /** A block trade: no book change, no orders. */
  afterBlock(trade: NewTrade, seriesCode: string): void {
    this.enqueue({ codes: new Map([[trade.seriesId, seriesCode]]), trades: [trade], orderIds: [], levels: new Map() });
  }

  /** A series halted at lastTradingAt: EXPIRED on `series`, its resting orders cancelled (levels and orders). */
  afterHalt(series: { id: string; code: string }, cancelled: readonly Order[]): void {
    const levels: LevelKey[] = [];
    for (const o of cancelled)
      if (!levels.some((k) => k.side === o.side && k.priceFen === o.priceFen)) levels.push({ side: o.side, priceFen: o.priceFen });
    this.enqueue({
      codes: new Map([[series.id, series.code]]),
      trades: [],
      orderIds: cancelled.map((o) => o.id),
      levels: new Map(levels.length ? [[series.id, levels]] : []),
      also: [{ channel: 'series', series: series.code, data: { kind: 'status', status: 'EXPIRED', at: new Date().toISOString() } }],
    });
  }

  /** Waits for every change enqueued so far (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private enqueue(change: MarketChange): void {
    this.pending.push(change);
    this.draining ??= this.drain();
  }

  /**
   * One read and one publish at a time: the changes that committed meanwhile are read back
   * together (their levels and orders once), so a burst of batches costs one round of reads, not
   * one each, and nothing queues without bound.
   */
  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const changes = this.pending.splice(0);
      try {
        await this.publisher.publish(await this.events(merge(changes)));
      } catch (err) {
        this.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'market change not published on /v1/stream');
      }
    }
    this.draining = undefined;
  }

  private async events(change: MarketChange): Promise<StreamEvent[]> {
    const [books, orders] = await Promise.all([
      Promise.all(
        [...change.levels].map(async ([seriesId, keys]) => [seriesId, await this.repo.levels(this.tx.root, seriesId, keys)] as const),
      ),
      change.orderIds.length > 0 ? this.repo.orders(this.tx.root, [...change.orderIds]) : Promise.resolve([]),
    ]);
    const events: StreamEvent[] = [];
    for (const [seriesId, read] of books) {
      events.push({
        channel: 'book',
        series: change.codes.get(seriesId)!,
        data: {
          levels: read.levels.map((l) => ({ side: l.side, price: formatFen(l.priceFen), quantity: Number(l.quantity) })),
          version: read.version,
        },
      });
    }
    for (const t of change.trades) {
      const series = change.codes.get(t.seriesId)!;
      events.push({
        channel: 'trades',
        series,
        data: {
          id: t.id,
          series,
          price: formatFen(t.priceFen),
          currency: 'CNY',
          quantity: t.quantity,
          block: t.block,
          createdAt: t.createdAt.toISOString(),
        },
      });
    }
    for (const o of orders) {
      const series = change.codes.get(o.seriesId)!;
      events.push({ channel: 'orders', series, memberIds: [o.memberId], data: orderView(o, series) });
    }
    events.push(...(change.also ?? []));
    return events;
  }
}

/** Several committed changes as one: every touched level and order once, the trades in commit order. */
function merge(changes: MarketChange[]): MarketChange {
  if (changes.length === 1) return changes[0];
  const codes = new Map<string, string>();
  const levels = new Map<string, LevelKey[]>();
  const orderIds = new Set<string>();
  for (const c of changes) {
    for (const [id, code] of c.codes) codes.set(id, code);
    for (const id of c.orderIds) orderIds.add(id);
    for (const [seriesId, keys] of c.levels) {
      const list = levels.get(seriesId) ?? levels.set(seriesId, []).get(seriesId)!;
      for (const k of keys) if (!list.some((x) => x.side === k.side && x.priceFen === k.priceFen)) list.push(k);
    }
  }
  return {
    codes,
    levels,
    orderIds: [...orderIds],
    trades: changes.flatMap((c) => c.trades),
    also: changes.flatMap((c) => c.also ?? []),
  };
}
