/**
 * Closing out a defaulter's positions (SPEC §6.4): per series one lot — the defaulter's net
 * position — sold by sealed-bid auction to the best bids, price first then time; what no bid
 * takes is torn up against the members holding the opposite side, pro rata, at the last
 * settlement price. Pure arithmetic in contracts and fen.
 */

export interface Lot {
  seriesId: string;
  /** The defaulter's side: a LONG lot is sold to bidders (who go long), a SHORT lot bought from them. */
  side: 'LONG' | 'SHORT';
  quantity: number;
  /** Last settlement price, fen per 1,000,000 tokens: the close-out reference. */
  referencePriceFen: bigint;
  /** Fen per (price fen × contract): contractSizeTokens / 1,000,000. */
  multiplier: bigint;
}

export interface Bid {
  id: string;
  bidderId: string;
  seriesId: string;
  priceFen: bigint;
  quantity: number;
  submittedAt: Date;
}

export interface Award {
  bidId: string;
  bidderId: string;
  quantity: number;
  priceFen: bigint;
}

export interface Holder {
  memberId: string;
  /** Contracts the member holds on the side opposite the defaulter's (> 0). */
  quantity: number;
}

export interface TearUp {
  memberId: string;
  quantity: number;
}

export interface LotOutcome {
  awards: Award[];
  tearUps: TearUp[];
  /** Close-out cost against the reference price (positive = a loss the waterfall pays). */
  lossFen: bigint;
}

/** Better price first — higher when the defaulter sells (LONG lot), lower when it buys — then earlier. */
export function rankBids(lot: Lot, bids: readonly Bid[]): Bid[] {
  return bids
    .filter((b) => b.seriesId === lot.seriesId && b.quantity > 0)
    .sort((a, b) => {
      if (a.priceFen !== b.priceFen) return (lot.side === 'LONG' ? b.priceFen > a.priceFen : a.priceFen > b.priceFen) ? 1 : -1;
      return a.submittedAt.getTime() - b.submittedAt.getTime() || a.id.localeCompare(b.id);
    });
}

/**
 * Pro rata split of `quantity` contracts over holders by their opposite positions, each capped at
 * its position; rounding by largest remainder (then the larger position, then member id).
 */
export function proRata(quantity: number, holders: readonly Holder[]): TearUp[] {
  const open = holders.filter((h) => h.quantity > 0);
  const total = open.reduce((n, h) => n + h.quantity, 0);
  if (quantity > total) throw new Error(`cannot tear up ${quantity} contracts against ${total} held`);
  if (quantity === 0 || total === 0) return [];
  const base = open.map((h) => ({ h, q: Math.floor((quantity * h.quantity) / total), r: (quantity * h.quantity) % total }));
  let left = quantity - base.reduce((n, b) => n + b.q, 0);
  for (const b of [...base].sort((x, y) => y.r - x.r || y.h.quantity - x.h.quantity || x.h.memberId.localeCompare(y.h.memberId))) {
    if (left === 0) break;
    b.q += 1;
    left -= 1;
  }
  return base.filter((b) => b.q > 0).map((b) => ({ memberId: b.h.memberId, quantity: b.q }));
}

export function closeOutLot(lot: Lot, bids: readonly Bid[], oppositeHolders: readonly Holder[]): LotOutcome {
  const awards: Award[] = [];
  let left = lot.quantity;
  for (const b of rankBids(lot, bids)) {
    if (left === 0) break;
    const quantity = Math.min(left, b.quantity);
    awards.push({ bidId: b.id, bidderId: b.bidderId, quantity, priceFen: b.priceFen });
    left -= quantity;
  }
  // The defaulter sells a LONG lot at the award price: a price under the reference is a loss.
  const perContract = (price: bigint) => (lot.side === 'LONG' ? lot.referencePriceFen - price : price - lot.referencePriceFen);
  const lossFen = awards.reduce((n, a) => n + perContract(a.priceFen) * BigInt(a.quantity) * lot.multiplier, 0n);
  return { awards, tearUps: proRata(left, oppositeHolders), lossFen };
}
