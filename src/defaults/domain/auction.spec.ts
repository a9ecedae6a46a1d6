import fc from 'fast-check';
import { closeOutLot, proRata, type Bid, type Lot } from './auction.js';

const at = (s: number) => new Date(Date.UTC(2026, 11, 4, 8, 0, s));
const bid = (id: string, priceFen: bigint, quantity: number, s: number, seriesId = 'S'): Bid => ({
  id,
  bidderId: `m-${id}`,
  seriesId,
  priceFen,
  quantity,
  submittedAt: at(s),
});

describe('default auction', () => {
  const longLot: Lot = { seriesId: 'S', side: 'LONG', quantity: 10, referencePriceFen: 400n, multiplier: 100n };

  it('awards a LONG lot to the highest bids, ties by time, and prices the loss against the settlement price', () => {
    const out = closeOutLot(longLot, [bid('a', 380n, 4, 1), bid('b', 390n, 5, 3), bid('c', 390n, 5, 2), bid('x', 999n, 5, 0, 'OTHER')], []);
    expect(out.awards).toEqual([
      { bidId: 'c', bidderId: 'm-c', quantity: 5, priceFen: 390n },
      { bidId: 'b', bidderId: 'm-b', quantity: 5, priceFen: 390n },
    ]);
    // Sold 10 at 3.90 against 4.00: 10 fen × 10 contracts × 100 = 10,000 fen.
    expect(out.lossFen).toBe(10_000n);
    expect(out.tearUps).toEqual([]);
  });

  it('a SHORT lot goes to the lowest offers; a price above the reference is the loss', () => {
    const out = closeOutLot({ ...longLot, side: 'SHORT', quantity: 3 }, [bid('a', 420n, 2, 1), bid('b', 410n, 2, 2)], []);
    expect(out.awards.map((a) => [a.bidId, a.quantity])).toEqual([
      ['b', 2],
      ['a', 1],
    ]);
    expect(out.lossFen).toBe((10n * 2n + 20n * 1n) * 100n);
  });

  it('unsold contracts are torn up pro rata against the opposite side, at the settlement price (no loss)', () => {
    const out = closeOutLot(
      longLot,
      [bid('a', 400n, 3, 1)],
      [
        { memberId: 'p', quantity: 6 },
        { memberId: 'q', quantity: 2 },
        { memberId: 'r', quantity: 2 },
      ],
    );
    expect(out.tearUps).toEqual([
      { memberId: 'p', quantity: 4 }, // 7 × 6/10 = 4.2; q and r 1.4 each: the one left goes to the larger remainder, q before r by id
      { memberId: 'q', quantity: 2 },
      { memberId: 'r', quantity: 1 },
    ]);
    expect(out.lossFen).toBe(0n);
  });

  it('property: pro rata tear-ups add up exactly and never exceed a holding', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 1_000 }), { minLength: 1, maxLength: 10 }), fc.nat(), (sizes, seed) => {
        const holders = sizes.map((quantity, i) => ({ memberId: `h${i}`, quantity }));
        const total = sizes.reduce((a, b) => a + b, 0);
        const q = seed % (total + 1);
        const out = proRata(q, holders);
        expect(out.reduce((n, t) => n + t.quantity, 0)).toBe(q);
        for (const t of out) expect(t.quantity).toBeLessThanOrEqual(holders.find((h) => h.memberId === t.memberId)!.quantity);
      }),
    );
  });
});
