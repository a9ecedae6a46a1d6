import { DomainError } from '../../platform/errors/error-codes.js';
import type { SeriesWithProduct } from '../markets.repository.js';
import { assertCapacityBacked, assertDeliveryRules, assertPrice, assertTrading } from '../pre-trade.js';
import { heldMarginFen } from '../margin.service.js';
import { breachesLimit, inSpotMonth, outsideBand } from '../../risk/domain/limits.js';
import { portfolioMargin, worstCase, type SeriesLeg } from '../../risk/domain/portfolio-margin.js';
import { worstCaseContracts, type Exposure } from './contract-math.js';
import { match, type Fill, type RestingOrder, type Side } from './matching.js';
import { hasPortfolioMargin, productRisk } from './risk-params.js';

/**
 * Orders matched in one transaction — of one series or several — with exactly the outcome they
 * would have had one after another in arrival order: every pre-trade check (margin included)
 * runs against the state the earlier orders of the batch left behind, and a member's free cash
 * is shared by its orders in every series. No I/O: the caller reads the state under the series
 * locks and writes the result; `runBatch` moves the state's positions and cash along as orders
 * are accepted (the caller keeps a copy of what it read).
 */

export interface BatchOrder {
  id: string;
  seriesId: string;
  memberId: string;
  memberKind: string;
  side: Side;
  priceFen: bigint;
  quantity: number;
  timeInForce: 'GTC' | 'IOC';
  clientOrderId?: string;
}

/** A member's exposure in one series and the worst-case contracts whose margin is held. */
export interface MemberPosition extends Exposure {
  marginQty: number;
}

export interface BookOrder extends RestingOrder {
  side: Side;
}

/** One series as the batch sees it. */
export interface SeriesBook {
  series: SeriesWithProduct;
  /** The series' margin price, read under the series lock. */
  marginPriceFen: bigint;
  /** Every member of the batch in this series and every owner of an order in `bids`/`asks`. */
  positions: Map<string, MemberPosition>;
  /** Resting buys that any sell of the batch could meet, best (highest) first, then oldest. */
  bids: BookOrder[];
  /** Resting sells that any buy of the batch could meet, best (lowest) first, then oldest. */
  asks: BookOrder[];
  /** Deliverable tokens of each OPERATOR of the batch (PHYSICAL series only). */
  deliverableTokens: Map<string, bigint>;
  /** Circuit-breaker anchor (null: the product has no breaker). */
  anchorFen?: bigint | null;
  /** Open interest before the batch (concentration add-on). */
  openInterest?: number;
}

/** What portfolio margin and position limits read beyond the batch's books. */
export interface RiskState {
  /** `${memberId}:${productId}` → the member's legs in series of the product that are not among the books' pairs. */
  otherLegs: Map<string, SeriesLeg[]>;
  /** `${memberId}:${productId}` → portfolio adjustment held (IM − Σ outright). */
  adjustments: Map<string, bigint>;
  /** Members under an open MAINTENANCE call: they may only reduce. */
  maintenanceCalls: Set<string>;
}

export interface BatchState {
  now: Date;
  traderCutoffHours: number;
  books: Map<string, SeriesBook>;
  /** Free cash of every member in `positions` of any book. */
  cash: Map<string, bigint>;
  /** `${memberId}:${clientOrderId}` already used. */
  clientOrderIds: Set<string>;
  risk?: RiskState;
}

/** An accepted order as it will be stored: its final state after the whole batch. */
export interface AcceptedOrder {
  input: BatchOrder;
  filledQuantity: number;
  status: 'OPEN' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELLED';
  cancelReason?: string;
  /** Its state right after its own matching: what its placer is told. */
  placed: { filledQuantity: number; status: AcceptedOrder['status']; cancelReason?: string };
  fills: Fill[];
}

export type BatchOutcome = { accepted: AcceptedOrder } | { rejected: DomainError };

export interface BatchResult {
  outcomes: BatchOutcome[];
  /** Orders that rested before the batch, by id: contracts filled, cancelled (self-trade prevention). */
  resting: Map<string, RestingChange>;
  /** Circuit-breaker pauses the batch triggered. */
  pauses: { seriesId: string; until: Date; priceFen: bigint; anchorFen: bigint; at: Date }[];
  /** Change of each member's portfolio adjustment per product. */
  adjustments: { memberId: string; productId: string; deltaFen: bigint }[];
}

export interface RestingChange {
  filled: number;
  cancelled: boolean;
}

interface Entry extends BookOrder {
  /** Set when the order was placed by this batch (its row is written at the end). */
  batch?: AcceptedOrder;
}

/** The initial margin held for `qty` worst-case contracts of a series at its margin price. */
export const heldFor = (book: SeriesBook, qty: number): bigint => heldMarginFen(book.series, qty, book.marginPriceFen);

/** A member's legs in one product: its positions in the batch's books of the product (as `override` says for one series) and the rest. */
function productLegs(
  state: BatchState,
  memberId: string,
  productId: string,
  override: Map<string, Map<string, MemberPosition>>,
): SeriesLeg[] {
  const legs = [...(state.risk?.otherLegs.get(`${memberId}:${productId}`) ?? [])];
  for (const [seriesId, b] of state.books) {
    if (b.series.productId !== productId) continue;
    const p = override.get(seriesId)?.get(memberId) ?? b.positions.get(memberId);
    if (p) legs.push({ seriesId, ...p, priceFen: b.marginPriceFen, openInterest: b.openInterest ?? 0 });
  }
  return legs;
}

const sumWorstCase = (legs: SeriesLeg[]) => legs.reduce((n, l) => n + worstCase(l), 0);

export function runBatch(state: BatchState, orders: readonly BatchOrder[]): BatchResult {
  const initialAdjustments = new Map(state.risk?.adjustments);
  const pauses: BatchResult['pauses'] = [];
  const sides = new Map<string, Record<Side, Entry[]>>();
  for (const [id, b] of state.books) sides.set(id, { BUY: b.bids.map((e) => ({ ...e })), SELL: b.asks.map((e) => ({ ...e })) });
  const resting = new Map<string, RestingChange>();
  const changeOf = (id: string) => resting.get(id) ?? resting.set(id, { filled: 0, cancelled: false }).get(id)!;
  const seen = new Set(state.clientOrderIds);

  const outcomes = orders.map((o): BatchOutcome => {
    try {
      const book = state.books.get(o.seriesId)!;
      const books = sides.get(o.seriesId)!;
      const series = book.series;
      const me = book.positions.get(o.memberId);
      if (!me) throw new Error(`batch state lacks member ${o.memberId} in series ${series.code}`);
      assertTrading(series, state.now);
      if (series.pausedUntil && state.now < series.pausedUntil)
        throw new DomainError('SERIES_PAUSED', `${series.code} is paused by its circuit breaker until ${series.pausedUntil.toISOString()}`);
      assertPrice(series, o.priceFen);
      const asResting: Exposure = {
        net: me.net,
        restingBuyQty: me.restingBuyQty + (o.side === 'BUY' ? o.quantity : 0),
        restingSellQty: me.restingSellQty + (o.side === 'SELL' ? o.quantity : 0),
      };
      assertDeliveryRules(series, o.memberKind, me, asResting, state.now, state.traderCutoffHours);
      if (o.memberKind === 'OPERATOR') assertCapacityBacked(series, asResting, book.deliverableTokens.get(o.memberId) ?? 0n);
      const clientKey = o.clientOrderId === undefined ? undefined : `${o.memberId}:${o.clientOrderId}`;
      if (clientKey !== undefined && seen.has(clientKey)) throw new DomainError('DUPLICATE_CLIENT_ORDER_ID');
      assertRisk(state, book, o, me, asResting);

      const other: Side = o.side === 'BUY' ? 'SELL' : 'BUY';
      const opposite = books[other];
      const result = match({ memberId: o.memberId, side: o.side, priceFen: o.priceFen, quantity: o.quantity }, opposite);
      const breach = breakerBreach(book, result.fills);
      if (breach !== undefined) {
        const until = new Date(state.now.getTime() + series.product.circuitBreakerPauseSeconds * 1000);
        pauses.push({ seriesId: series.id, until, priceFen: breach, anchorFen: book.anchorFen!, at: state.now });
        book.series = { ...series, pausedUntil: until, anchorPriceFen: breach, anchorAt: state.now };
        book.anchorFen = breach;
        throw new DomainError(
          'SERIES_PAUSED',
          `the order would trade at ${breach} fen, beyond ${series.product.circuitBreakerBp} bp of the anchor ${pauses.at(-1)!.anchorFen} fen: ${series.code} is paused until ${until.toISOString()}`,
        );
      }
      const filled = o.quantity - result.remaining;
      const rests = o.timeInForce === 'GTC' && result.remaining > 0;

      // The members' positions and cash after this order, on copies: a rejection leaves no trace.
      const after = new Map<string, MemberPosition>();
      const cash = new Map<string, bigint>();
      const positionOf = (id: string) => after.get(id) ?? after.set(id, { ...book.positions.get(id)! }).get(id)!;
      const charge = (id: string, fen: bigint) => cash.set(id, (cash.get(id) ?? state.cash.get(id) ?? 0n) - fen);
      const sign = o.side === 'BUY' ? 1 : -1;
      const fee = series.product.feePerContractFen;
      const aggressor = positionOf(o.memberId);
      aggressor.net += sign * filled;
      charge(o.memberId, fee * BigInt(filled));
      if (rests) addResting(aggressor, o.side, result.remaining);
      const byId = new Map(opposite.map((e) => [e.id, e]));
      for (const id of result.selfTradeCancelled) addResting(aggressor, byId.get(id)!.side, -byId.get(id)!.remaining);
      for (const f of result.fills) {
        const cp = positionOf(f.counterpartyId);
        cp.net -= sign * f.quantity;
        addResting(cp, other, -f.quantity);
        charge(f.counterpartyId, fee * BigInt(f.quantity));
      }
      for (const [id, s] of after) {
        const qty = worstCaseContracts(s);
        charge(id, heldFor(book, qty) - heldFor(book, s.marginQty));
        s.marginQty = qty;
      }
      // Portfolio margin: the adjustment (IM − Σ outright) of every member whose position moved.
      const adjusted = new Map<string, bigint>();
      if (state.risk && hasPortfolioMargin(series.product)) {
        const risk = productRisk(series.product);
        const override = new Map([[o.seriesId, after]]);
        for (const id of after.keys()) {
          const key = `${id}:${series.productId}`;
          const m = portfolioMargin(productLegs(state, id, series.productId, override), risk);
          const adjustment = m.totalFen - m.outrightFen;
          charge(id, adjustment - (state.risk.adjustments.get(key) ?? 0n));
          adjusted.set(key, adjustment);
        }
      }
      // The ledger's rule for the member who chose this order: its cash may not end below zero
      // unless the order brings cash in (counterparties are charged by right).
      const before = state.cash.get(o.memberId) ?? 0n;
      const left = cash.get(o.memberId)!;
      if (left < before && left < 0n) {
        throw new DomainError('INSUFFICIENT_MARGIN', 'free cash does not cover the initial margin of the worst-case position and the fees');
      }

      for (const [id, s] of after) book.positions.set(id, s);
      for (const [id, c] of cash) state.cash.set(id, c);
      for (const [key, a] of adjusted) state.risk!.adjustments.set(key, a);
      if (clientKey !== undefined) seen.add(clientKey);
      const status: AcceptedOrder['status'] =
        filled === o.quantity ? 'FILLED' : rests ? (filled > 0 ? 'PARTIALLY_FILLED' : 'OPEN') : 'CANCELLED';
      const cancelReason = rests || filled === o.quantity ? undefined : 'IOC_REMAINDER';
      const accepted: AcceptedOrder = {
        input: o,
        filledQuantity: filled,
        status,
        cancelReason,
        placed: { filledQuantity: filled, status, cancelReason },
        fills: result.fills,
      };

      for (const id of result.selfTradeCancelled) {
        const e = byId.get(id)!;
        if (e.batch) Object.assign(e.batch, { status: 'CANCELLED', cancelReason: 'SELF_TRADE_PREVENTION' });
        else changeOf(id).cancelled = true;
      }
      for (const f of result.fills) {
        const e = byId.get(f.restingId)!;
        e.remaining -= f.quantity;
        if (e.batch) {
          e.batch.filledQuantity += f.quantity;
          e.batch.status = e.remaining === 0 ? 'FILLED' : 'PARTIALLY_FILLED';
        } else changeOf(e.id).filled += f.quantity;
      }
      const gone = new Set(result.selfTradeCancelled);
      books[other] = opposite.filter((e) => e.remaining > 0 && !gone.has(e.id));
      if (rests)
        insertByPriority(books[o.side], {
          id: o.id,
          memberId: o.memberId,
          priceFen: o.priceFen,
          remaining: result.remaining,
          side: o.side,
          batch: accepted,
        });
      return { accepted };
    } catch (err) {
      if (err instanceof DomainError) return { rejected: err };
      throw err;
    }
  });
  const adjustments = [...(state.risk?.adjustments ?? [])]
    .map(([key, fen]) => {
      const [memberId, productId] = key.split(':');
      return { memberId, productId, deltaFen: fen - (initialAdjustments.get(key) ?? 0n) };
    })
    .filter((a) => a.deltaFen !== 0n);
  return { outcomes, resting, pauses, adjustments };
}

/**
 * SPEC 6.3 checks of the order's own member, on its exposure with the order resting: a member under
 * a MAINTENANCE call may only reduce; the spot-month and all-months position limits.
 */
function assertRisk(state: BatchState, book: SeriesBook, o: BatchOrder, me: MemberPosition, asResting: Exposure): void {
  const product = book.series.product;
  const before = worstCaseContracts(me);
  const after = worstCaseContracts(asResting);
  if (after <= before) return;
  if (state.risk?.maintenanceCalls.has(o.memberId)) {
    throw new DomainError('MARGIN_CALL_OPEN', 'a member under an open maintenance margin call may only reduce its positions');
  }
  if (inSpotMonth(book.series.deliveryStart, state.now) && breachesLimit(product.spotMonthLimit, before, after)) {
    throw new DomainError(
      'POSITION_LIMIT',
      `${after} contracts (position and resting orders, worst case) would exceed the spot-month limit of ${product.spotMonthLimit} in ${book.series.code}`,
    );
  }
  if (product.positionLimit !== null) {
    const legs = productLegs(state, o.memberId, book.series.productId, new Map());
    const total = sumWorstCase(legs);
    const totalAfter = total - before + after;
    if (breachesLimit(product.positionLimit, total, totalAfter)) {
      throw new DomainError(
        'POSITION_LIMIT',
        `${totalAfter} contracts over all series of ${product.code} (worst case with resting orders) would exceed its limit of ${product.positionLimit}`,
      );
    }
  }
}

/** The fill furthest beyond the circuit breaker's band around the anchor, if any. */
function breakerBreach(book: SeriesBook, fills: readonly Fill[]): bigint | undefined {
  const bp = book.series.product.circuitBreakerBp;
  if (bp === null || book.anchorFen === null || book.anchorFen === undefined) return undefined;
  const anchor = book.anchorFen;
  let worst: bigint | undefined;
  const distance = (p: bigint) => (p > anchor ? p - anchor : anchor - p);
  for (const f of fills)
    if (outsideBand(f.priceFen, anchor, bp) && (worst === undefined || distance(f.priceFen) > distance(worst))) worst = f.priceFen;
  return worst;
}

function addResting(s: MemberPosition, side: Side, qty: number): void {
  if (side === 'BUY') s.restingBuyQty += qty;
  else s.restingSellQty += qty;
}

/** A new resting order goes after every order at its price or better: price, then time. */
function insertByPriority(book: Entry[], e: Entry): void {
  const better = (a: bigint) => (e.side === 'BUY' ? a >= e.priceFen : a <= e.priceFen);
  let i = 0;
  while (i < book.length && better(book[i].priceFen)) i++;
  book.splice(i, 0, e);
}
