import { randomUUID } from 'node:crypto';
import type { Order } from '../generated/prisma/client.js';
import type { TransferRequest } from '../ledger/ledger.types.js';
import { heldFor, type AcceptedOrder, type MemberPosition, type SeriesBook } from './domain/order-batch.js';
import { feeTransfers } from './fees.js';
import { marginTransfer } from './margin.service.js';
import type { NewTrade } from './markets.repository.js';
import type { PositionChange } from './order-batch.repository.js';

// What a matched batch writes, from its outcome: the trades, each member's change of position and
// margin, the money, and the placed orders as answered. No I/O: the batcher runs them between its
// read and its write, inside the transaction.

/**
 * The batch's money: fees of every trade (the aggressor's voluntary, the resting side's by
 * right) and one transfer per member for its net change of margin over every series and its
 * portfolio adjustments.
 */
export function transfers(
  books: Map<string, SeriesBook>,
  firstOrderId: string,
  trades: BatchTrade[],
  positions: PositionChange[],
  initial: Map<string, Map<string, MemberPosition>>,
  businessDate: string,
  adjustments: { memberId: string; deltaFen: bigint }[] = [],
): TransferRequest[] {
  const out = trades.flatMap((t) => {
    const aggressor = t.buyOrderId === t.aggressorOrderId ? t.buyerId : t.sellerId;
    return feeTransfers(t, books.get(t.seriesId)!.series.product.feePerContractFen, businessDate, (m) => m === aggressor);
  });
  const margin = new Map<string, bigint>();
  for (const p of positions) {
    const book = books.get(p.seriesId)!;
    const delta = heldFor(book, p.marginQty) - heldFor(book, initial.get(p.seriesId)!.get(p.memberId)!.marginQty);
    margin.set(p.memberId, (margin.get(p.memberId) ?? 0n) + delta);
  }
  // Portfolio margin: the change of each member's adjustment (spread credit, concentration add-on).
  for (const a of adjustments) margin.set(a.memberId, (margin.get(a.memberId) ?? 0n) + a.deltaFen);
  for (const [memberId, delta] of margin)
    if (delta !== 0n) out.push(marginTransfer(memberId, delta, `order.${firstOrderId}`, businessDate));
  return out;
}

export type BatchTrade = NewTrade & { aggressorOrderId: string };

export function toTrade(a: AcceptedOrder, f: AcceptedOrder['fills'][number], businessDate: string, now: Date): BatchTrade {
  const buy = a.input.side === 'BUY';
  return {
    id: randomUUID(),
    seriesId: a.input.seriesId,
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

/** Per member and series: contracts bought and sold in the batch, and margin held now (when either changed). */
export function positionChanges(
  trades: NewTrade[],
  initial: Map<string, Map<string, MemberPosition>>,
  books: Map<string, SeriesBook>,
): PositionChange[] {
  const out = new Map<string, PositionChange>();
  const of = (seriesId: string, memberId: string) => {
    const key = `${seriesId}:${memberId}`;
    return (
      out.get(key) ??
      out
        .set(key, { seriesId, memberId, longAdd: 0, shortAdd: 0, marginQty: books.get(seriesId)!.positions.get(memberId)!.marginQty })
        .get(key)!
    );
  };
  for (const t of trades) {
    of(t.seriesId, t.buyerId).longAdd += t.quantity;
    of(t.seriesId, t.sellerId).shortAdd += t.quantity;
  }
  for (const [seriesId, book] of books) {
    for (const [memberId, p] of book.positions) if (p.marginQty !== initial.get(seriesId)!.get(memberId)!.marginQty) of(seriesId, memberId);
  }
  // Row locks in one order (series, member), whatever the batch.
  return [...out.values()].sort((a, b) => (a.seriesId + a.memberId < b.seriesId + b.memberId ? -1 : 1));
}

export function toOrder(a: AcceptedOrder, row: Pick<Order, 'seq' | 'createdAt' | 'updatedAt'>): Order {
  return {
    id: a.input.id,
    seq: row.seq,
    seriesId: a.input.seriesId,
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
