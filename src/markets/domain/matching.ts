export type Side = 'BUY' | 'SELL';

export interface RestingOrder {
  id: string;
  memberId: string;
  priceFen: bigint;
  /** Open quantity (quantity − filled). */
  remaining: number;
}

export interface IncomingOrder {
  memberId: string;
  side: Side;
  priceFen: bigint;
  quantity: number;
}

export interface Fill {
  restingId: string;
  counterpartyId: string;
  priceFen: bigint;
  quantity: number;
}

export interface MatchResult {
  fills: Fill[];
  /** Resting orders of the same member met while matching: cancelled (self-trade prevention). */
  selfTradeCancelled: string[];
  remaining: number;
}

/** Does a resting order at `restingPrice` cross an incoming order? */
export function crosses(side: Side, limit: bigint, restingPrice: bigint): boolean {
  return side === 'BUY' ? restingPrice <= limit : restingPrice >= limit;
}

/**
 * One matching step, price-time priority. `book` is the opposite side already in priority
 * order (best price first, then oldest). A crossing order trades at the resting price; a resting
 * order of the same member is cancelled instead of traded against.
 */
export function match(incoming: IncomingOrder, book: readonly RestingOrder[]): MatchResult {
  const fills: Fill[] = [];
  const selfTradeCancelled: string[] = [];
  let remaining = incoming.quantity;
  for (const resting of book) {
    if (remaining === 0 || !crosses(incoming.side, incoming.priceFen, resting.priceFen)) break;
    if (resting.memberId === incoming.memberId) {
      selfTradeCancelled.push(resting.id);
      continue;
    }
    const quantity = Math.min(remaining, resting.remaining);
    fills.push({ restingId: resting.id, counterpartyId: resting.memberId, priceFen: resting.priceFen, quantity });
    remaining -= quantity;
  }
  return { fills, selfTradeCancelled, remaining };
}
