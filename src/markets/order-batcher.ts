import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Counter, Histogram } from 'prom-client';
import type { Order } from '../generated/prisma/client.js';
import { CapacityViewService } from '../capacity/capacity-view.service.js';
import { HOUSE, memberAccount, type TransferRequest } from '../ledger/ledger.types.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { fulfilled, GroupCommit, rejected } from '../platform/batching/group-commit.js';
import { DomainError } from '../platform/errors/error-codes.js';
import type { Principal } from '../platform/http/request-context.js';
import { Metrics } from '../platform/metrics/metrics.js';
import { PrismaService } from '../platform/prisma/prisma.service.js';
import type { SqlTx } from '../platform/prisma/sql-tx.js';
import { Clock } from '../platform/time/clock.js';
import { runBatch, type AcceptedOrder, type BatchOrder, type MemberState } from './domain/order-batch.js';
import { heldMarginFen, marginPriceFen, marginTransfer } from './margin.service.js';
import { OrderBatchRepository, type PositionChange } from './order-batch.repository.js';
import { MarketsRepository, type NewTrade, type SeriesWithProduct } from './markets.repository.js';
import { OrdersService, type PlacedOrder, type PlaceOrder } from './orders.service.js';
import { assertQuantity } from './pre-trade.js';

/** Orders of one series taken into one transaction at most; bounds a batch's statement size. */
const MAX_BATCH = 200;

interface Pending {
  principal: Principal;
  input: PlaceOrder;
  order: BatchOrder;
}

/**
 * Group commit for matching. Orders of a series wait in this process's lane (a GroupCommit)
 * while the previous batch of that series is in its transaction, then go together: one series lock, one read, one
 * write and one ledger posting for the whole batch, every order judged in arrival order exactly
 * as if alone (`runBatch`). The Postgres lock still serialises a series across processes. If a
 * batch cannot commit (the ledger refuses because cash moved meanwhile, a unique key raced), its
 * orders are placed one by one through the single-order path, so the outcome never depends on
 * batching.
 */
@Injectable()
export class OrderBatcher {
  private readonly logger = new Logger(OrderBatcher.name);
  private readonly lanes = new Map<string, GroupCommit<Pending, PlacedOrder>>();
  /** Series never change what is cached here after listing; live fields are read under the lock. */
  private readonly listings = new Map<string, SeriesWithProduct>();
  private readonly batchSize: Histogram;
  private readonly fallbacks: Counter;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly markets: MarketsRepository,
    private readonly repo: OrderBatchRepository,
    private readonly orders: OrdersService,
    private readonly capacity: CapacityViewService,
    private readonly clock: Clock,
    metrics: Metrics,
  ) {
    this.batchSize = new Histogram({ name: 'order_batch_size', help: 'Orders matched per series transaction', buckets: [1, 2, 4, 8, 16, 32, 64, 128], registers: [metrics.registry] });
    this.fallbacks = new Counter({ name: 'order_batch_fallbacks_total', help: 'Batches that could not commit and were placed order by order', registers: [metrics.registry] });
  }

  async place(principal: Principal, input: PlaceOrder): Promise<PlacedOrder> {
    const quantity = assertQuantity(input.quantity);
    if (input.id) {
      const replay = await this.orders.replay(input.id);
      if (replay) return replay;
    }
    const order: BatchOrder = { id: input.id ?? randomUUID(), memberId: principal.memberId, memberKind: principal.memberKind, side: input.side, priceFen: input.priceFen, quantity, timeInForce: input.timeInForce, clientOrderId: input.clientOrderId };
    let lane = this.lanes.get(input.seriesCode);
    if (!lane) this.lanes.set(input.seriesCode, (lane = new GroupCommit((batch) => this.run(input.seriesCode, batch), MAX_BATCH, (n) => this.batchSize.observe(n))));
    return lane.run({ principal, input: { ...input, id: order.id }, order });
  }

  private async run(code: string, pending: Pending[]): Promise<PromiseSettledResult<PlacedOrder>[]> {
    // One order id twice (concurrent replays of one Idempotency-Key): the later ones go after
    // the batch, one by one, and find the first placed.
    const ids = new Set<string>();
    const batch = pending.filter((p) => !ids.has(p.order.id) && ids.add(p.order.id));
    const answers = new Map<Pending, PromiseSettledResult<PlacedOrder>>();
    try {
      const series = await this.listing(code);
      const outcomes = await this.prisma.sqlTransaction((tx) => this.match(tx, series, batch));
      outcomes.forEach((o, i) => answers.set(batch[i], o instanceof DomainError ? rejected(o) : fulfilled(o)));
    } catch (err) {
      if (batch.length === 1 || (err instanceof DomainError && err.code === 'NOT_FOUND')) return pending.map(() => rejected(err));
      this.fallbacks.inc();
      this.logger.warn({ err: err instanceof Error ? err.message : String(err), orders: batch.length }, 'order batch rolled back; placing its orders one by one');
    }
    const out: PromiseSettledResult<PlacedOrder>[] = [];
    for (const p of pending) {
      out.push(answers.get(p) ?? (await this.orders.placeOne(p.principal, p.input).then(fulfilled, rejected)));
    }
    return out;
  }

  private async listing(code: string): Promise<SeriesWithProduct> {
    const cached = this.listings.get(code);
    if (cached) return cached;
    const series = await this.markets.seriesByCode(this.prisma, code);
    if (!series) throw new DomainError('NOT_FOUND', `series ${code} not found`);
    this.listings.set(code, series);
    return series;
  }

  private async match(tx: SqlTx, listed: SeriesWithProduct, batch: Pending[]): Promise<(PlacedOrder | DomainError)[]> {
    await this.markets.lockSeries(tx, listed.id);
    const orders = batch.map((p) => p.order);
    const limits = (side: 'BUY' | 'SELL') => orders.filter((o) => o.side === side).map((o) => o.priceFen);
    const [buys, sells] = [limits('BUY'), limits('SELL')];
    const snapshot = await this.repo.snapshot(
      tx,
      listed.id,
      [...new Set(orders.map((o) => o.memberId))],
      buys.length ? buys.reduce((a, b) => (b > a ? b : a)) : null,
      sells.length ? sells.reduce((a, b) => (b < a ? b : a)) : null,
      orders.filter((o) => o.clientOrderId !== undefined).map((o) => ({ memberId: o.memberId, clientOrderId: o.clientOrderId! })),
    );
    const series: SeriesWithProduct = { ...listed, ...snapshot.live };
    const initial = new Map<string, MemberState>(snapshot.members);
    const now = this.clock.now();
    const result = runBatch(
      {
        series,
        now,
        traderCutoffHours: this.config.traderCutoffHours,
        marginPriceFen: marginPriceFen(series),
        members: snapshot.members,
        bids: snapshot.bids,
        asks: snapshot.asks,
        deliverableTokens: await this.deliverable(series, batch),
        clientOrderIds: snapshot.clientOrderIds,
      },
      orders,
    );

    const businessDate = this.clock.businessDate(now);
    const accepted = result.outcomes.flatMap((o) => ('accepted' in o ? [o.accepted] : []));
    const tradesOf = new Map(accepted.map((a) => [a.input.id, a.fills.map((f) => toTrade(series.id, a, f, businessDate, now))]));
    const trades = accepted.flatMap((a) => tradesOf.get(a.input.id)!);
    const fills = [...result.restingFills].map(([id, filled]) => ({ id, filled, cancelled: result.restingCancelled.includes(id) }));
    const cancelledOnly = result.restingCancelled.filter((id) => !result.restingFills.has(id)).map((id) => ({ id, filled: 0, cancelled: true }));
    const positions = positionChanges(trades, initial, snapshot.members);
    const written = await this.repo.write(tx, series.id, accepted, [...fills, ...cancelledOnly], trades, positions);
    if (accepted.length > 0) await this.orders.post(tx, this.transfers(series, accepted[0].input.id, trades, positions, initial, businessDate));

    return result.outcomes.map((o) => {
      if ('rejected' in o) return o.rejected;
      const a = o.accepted;
      return { order: toOrder(series.id, a, written.get(a.input.id)!), trades: tradesOf.get(a.input.id)! };
    });
  }

  /** What each OPERATOR of the batch can deliver in a PHYSICAL series (capacity registry). */
  private async deliverable(series: SeriesWithProduct, batch: Pending[]): Promise<Map<string, bigint>> {
    const out = new Map<string, bigint>();
    if (series.product.settlementType !== 'PHYSICAL') return out;
    for (const p of batch) {
      if (p.principal.memberKind !== 'OPERATOR' || out.has(p.principal.memberId)) continue;
      out.set(p.principal.memberId, await this.capacity.deliverableTokens(p.principal.memberId, series.product.modelClass, { start: series.deliveryStart, end: series.deliveryEnd }, series.product.regions));
    }
    return out;
  }

  /** Fees of every trade (the aggressor's voluntary, the resting side's by right) and each member's net change of margin. */
  private transfers(series: SeriesWithProduct, firstOrderId: string, trades: BatchTrade[], positions: PositionChange[], initial: Map<string, MemberState>, businessDate: string): TransferRequest[] {
    const out: TransferRequest[] = [];
    const fee = series.product.feePerContractFen;
    if (fee > 0n) {
      for (const t of trades) {
        const aggressor = t.buyOrderId === t.aggressorOrderId ? t.buyerId : t.sellerId;
        for (const [side, memberId] of [['buy', t.buyerId], ['sell', t.sellerId]] as const) {
          out.push({ idempotencyKey: `trade.${t.id}.fee.${side}`, debit: memberAccount(memberId, 'CASH'), credit: HOUSE.ccpFees, amountFen: fee * BigInt(t.quantity), kind: 'FEE', businessDate, refs: { tradeId: t.id }, collectByRight: memberId !== aggressor });
        }
      }
    }
    for (const p of positions) {
      const delta = heldMarginFen(series, p.marginQty) - heldMarginFen(series, initial.get(p.memberId)!.marginQty);
      if (delta !== 0n) out.push(marginTransfer(p.memberId, delta, `order.${firstOrderId}`, businessDate));
    }
    return out;
  }
}

type BatchTrade = NewTrade & { aggressorOrderId: string };

function toTrade(seriesId: string, a: AcceptedOrder, f: AcceptedOrder['fills'][number], businessDate: string, now: Date): BatchTrade {
  const buy = a.input.side === 'BUY';
  return {
    id: randomUUID(),
    seriesId,
    priceFen: f.priceFen,
    quantity: f.quantity,
    buyerId: buy ? a.input.memberId : f.counterpartyId,
    sellerId: buy ? f.counterpartyId : a.input.memberId,
    buyOrderId: buy ? a.input.id : f.restingId,
    sellOrderId: buy ? f.restingId : a.input.id,
    block: false,
    businessDate,
    createdAt: now,
    aggressorOrderId: a.input.id,
  };
}

/** Per member: contracts bought and sold in the batch, and margin held now (when either changed). */
function positionChanges(trades: NewTrade[], initial: Map<string, MemberState>, final: Map<string, MemberState>): PositionChange[] {
  const out = new Map<string, PositionChange>();
  const of = (id: string) => out.get(id) ?? out.set(id, { memberId: id, longAdd: 0, shortAdd: 0, marginQty: final.get(id)!.marginQty }).get(id)!;
  for (const t of trades) {
    of(t.buyerId).longAdd += t.quantity;
    of(t.sellerId).shortAdd += t.quantity;
  }
  for (const [id, s] of final) if (s.marginQty !== initial.get(id)!.marginQty) of(id);
  return [...out.values()].sort((a, b) => (a.memberId < b.memberId ? -1 : 1));
}

function toOrder(seriesId: string, a: AcceptedOrder, row: Pick<Order, 'seq' | 'createdAt' | 'updatedAt'>): Order {
  return {
    id: a.input.id,
    seq: row.seq,
    seriesId,
    memberId: a.input.memberId,
    side: a.input.side,
    priceFen: a.input.priceFen,
    quantity: a.input.quantity,
    // What the placer is told is its order's state right after its own matching.
    filledQuantity: a.placed.filledQuantity,
    status: a.placed.status,
    timeInForce: a.input.timeInForce,
    clientOrderId: a.input.clientOrderId ?? null,
    cancelReason: a.placed.cancelReason ?? null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
