import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { billableTokens, closeObligation, meter } from '../../src/delivery/domain/metering.js';

describe('metering arithmetic', () => {
  it('bills output plus weighted input, rounded down', () => {
    expect(billableTokens(1000n, 300n, 2_500)).toBe(550n);
    expect(billableTokens(3n, 10n, 2_500)).toBe(10n); // 0.75 input token is not billed
  });

  it('releases escrow on the cumulative total so the releases add up to the notional exactly', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 9n }),
        fc.bigInt({ min: 1n, max: 10n ** 8n }),
        fc.array(fc.bigInt({ min: 0n, max: 10n ** 7n }), { maxLength: 60 }),
        (tokens, notional, completions) => {
          let o = { tokens, deliveredTokens: 0n, notionalFen: notional, releasedFen: 0n };
          let paid = 0n;
          let excess = 0n;
          for (const c of [...completions, tokens]) {
            const m = meter(o, c);
            expect(m.releaseFen).toBeGreaterThanOrEqual(0n);
            expect(m.credited + m.excess).toBe(c);
            paid += m.releaseFen;
            excess += m.excess;
            o = { ...o, deliveredTokens: m.deliveredAfter, releasedFen: o.releasedFen + m.releaseFen };
            expect(o.deliveredTokens).toBeLessThanOrEqual(tokens);
            // Never paid ahead of delivery: released ≤ notional × delivered / tokens.
            expect(o.releasedFen * tokens).toBeLessThanOrEqual(notional * o.deliveredTokens);
          }
          expect(o.deliveredTokens).toBe(tokens);
          expect(paid).toBe(notional);
          expect(excess).toBe([...completions, tokens].reduce((s, c) => s + c, 0n) - tokens);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('closes a window: shortfall refunded with penalty, the rest paid to the seller, to the fen', () => {
    // 10M tokens for 40.00 CNY; 2,500,001 delivered (released 10.00); 3,000,001 in failed operator jobs.
    const o = { tokens: 10_000_000n, deliveredTokens: 2_500_001n, notionalFen: 4_000n, releasedFen: 1_000n };
    const c = closeObligation(o, 3_000_001n, 2_000);
    expect(c.shortfall).toBe(3_000_001n);
    expect(c.unused).toBe(4_499_998n);
    // Paid for delivered + unused = 6,999,999 tokens: floor(4000 × 6999999 / 10^7) = 2799.
    expect(c.releaseFen).toBe(1_799n);
    expect(c.refundFen).toBe(1_201n);
    expect(c.penaltyFen).toBe(241n); // 20 % of 12.01 = 2.402 → rounded up against the seller
    expect(o.releasedFen + c.releaseFen + c.refundFen).toBe(o.notionalFen);
    // No shortfall: everything left is take-or-pay, no penalty.
    expect(closeObligation(o, 0n, 2_000)).toMatchObject({ shortfall: 0n, refundFen: 0n, penaltyFen: 0n, releaseFen: 3_000n });
  });
});
