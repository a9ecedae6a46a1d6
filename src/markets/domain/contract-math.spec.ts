import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { marginForContractsFen, notionalFen, worstCaseContracts } from './contract-math.js';

describe('contract math', () => {
  it('notional = price × (size / 1M) × qty, exact', () => {
    // 4.00 CNY per 1M tokens, 10M-token contract, 3 contracts = 120.00 CNY
    expect(notionalFen(400n, 3, 10_000_000n)).toBe(12_000n);
  });

  it('worst case takes the worse side including resting orders', () => {
    expect(worstCaseContracts({ net: 5, restingBuyQty: 2, restingSellQty: 0 })).toBe(7);
    expect(worstCaseContracts({ net: 5, restingBuyQty: 0, restingSellQty: 12 })).toBe(7);
    expect(worstCaseContracts({ net: -3, restingBuyQty: 1, restingSellQty: 2 })).toBe(5);
    expect(worstCaseContracts({ net: 0, restingBuyQty: 0, restingSellQty: 0 })).toBe(0);
  });

  it('initial margin rounds up against the member', () => {
    // 7 contracts × 4.01 CNY × 10 = 280.70 CNY; 15 % = 42.105 → 42.11
    expect(marginForContractsFen(worstCaseContracts({ net: 7, restingBuyQty: 0, restingSellQty: 0 }), 401n, 10_000_000n, 1_500)).toBe(
      4_211n,
    );
  });

  it('a fill never raises worst-case exposure (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -50, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 1, max: 50 }),
        fc.boolean(),
        (net, b, s, q, buySide) => {
          const before = { net, restingBuyQty: b, restingSellQty: s };
          const qty = Math.min(q, buySide ? b : s);
          const after = buySide
            ? { net: net + qty, restingBuyQty: b - qty, restingSellQty: s }
            : { net: net - qty, restingBuyQty: b, restingSellQty: s - qty };
          expect(worstCaseContracts(after)).toBeLessThanOrEqual(worstCaseContracts(before));
        },
      ),
    );
  });
});
