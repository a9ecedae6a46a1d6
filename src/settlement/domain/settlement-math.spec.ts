import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { endOfBusinessDay, midFen, roundToTick, transfersChecksum, variationMarginFen, vwapFen } from './settlement-math.js';

describe('variation margin', () => {
  it('day one: bought 3 at 4.00, settles at 4.10, multiplier 10 → +3.00 CNY', () => {
    // (3 × 410 − 0 × 400 − 3 × 400) × 10 = 300 fen
    expect(
      variationMarginFen({ netStart: 0n, netEnd: 3n, prevPriceFen: 400n, priceFen: 410n, todaysSignedCostFen: 1_200n, multiplier: 10n }),
    ).toBe(300n);
  });

  it('a day without trades marks the position from S(t−1) to S(t)', () => {
    // (3 × 395 − 3 × 410 − 0) × 10 = −450
    expect(
      variationMarginFen({ netStart: 3n, netEnd: 3n, prevPriceFen: 410n, priceFen: 395n, todaysSignedCostFen: 0n, multiplier: 10n }),
    ).toBe(-450n);
  });

  it('sums to zero across the members of a series (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            buyer: fc.integer({ min: 0, max: 4 }),
            seller: fc.integer({ min: 0, max: 4 }),
            qty: fc.integer({ min: 1, max: 50 }),
            price: fc.integer({ min: 100, max: 900 }),
            today: fc.boolean(),
          }),
        ),
        fc.integer({ min: 100, max: 900 }),
        fc.integer({ min: 100, max: 900 }),
        (trades, prev, now) => {
          let total = 0n;
          for (let m = 0; m < 5; m++) {
            let netStart = 0n;
            let netEnd = 0n;
            let cost = 0n;
            for (const t of trades) {
              const signed = (t.buyer === m ? BigInt(t.qty) : 0n) - (t.seller === m ? BigInt(t.qty) : 0n);
              netEnd += signed;
              if (t.today) cost += signed * BigInt(t.price);
              else netStart += signed;
            }
            total += variationMarginFen({
              netStart,
              netEnd,
              prevPriceFen: BigInt(prev),
              priceFen: BigInt(now),
              todaysSignedCostFen: cost,
              multiplier: 10n,
            });
          }
          expect(total).toBe(0n);
        },
      ),
    );
  });
});

describe('settlement prices', () => {
  it('VWAP rounds to the nearest tick, halves up', () => {
    // (400 × 1 + 403 × 2) / 3 = 402.0 → 402 ; tick 5: 402 → 400
    expect(vwapFen({ notionalFen: 400n * 1n + 403n * 2n, quantity: 3n }, 1n)).toBe(402n);
    expect(vwapFen({ notionalFen: 400n * 1n + 403n * 2n, quantity: 3n }, 5n)).toBe(400n);
    expect(roundToTick(4025n, 10n, 1n)).toBe(403n); // 402.5 → 403
    expect(vwapFen({ notionalFen: 0n, quantity: 0n }, 1n)).toBeUndefined();
  });

  it('mid of bid and ask, on tick', () => {
    expect(midFen(399n, 402n, 1n)).toBe(401n); // 400.5 → 401
    expect(midFen(395n, 405n, 5n)).toBe(400n);
  });

  it('the business day ends at the cut-off in Asia/Shanghai', () => {
    expect(endOfBusinessDay('2026-12-01', '15:00').toISOString()).toBe('2026-12-01T07:00:00.000Z');
  });

  it('checksums ignore order and see every change', () => {
    const rows = [
      { key: 'a', debit: 'x', credit: 'y', amountFen: 1n },
      { key: 'b', debit: 'y', credit: 'x', amountFen: 2n },
    ];
    expect(transfersChecksum(rows)).toBe(transfersChecksum([...rows].reverse()));
    expect(transfersChecksum(rows)).not.toBe(transfersChecksum([rows[0], { ...rows[1], amountFen: 3n }]));
  });
});
