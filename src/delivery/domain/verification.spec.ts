import { randomUUID } from 'node:crypto';
import { seedFor, selectedForVerification, valueAtObligationPrice, verdict, verificationPenaltyFen } from './verification.js';

describe('verification sampling', () => {
  it('selects about verificationBp of jobs, the same jobs every time', () => {
    const ids = Array.from({ length: 20_000 }, () => randomUUID());
    const chosen = ids.filter((id) => selectedForVerification(id, 200));
    expect(chosen.length).toBeGreaterThan(300); // 2 % of 20,000 = 400
    expect(chosen.length).toBeLessThan(500);
    expect(chosen.every((id) => selectedForVerification(id, 200))).toBe(true);
    expect(ids.some((id) => selectedForVerification(id, 0))).toBe(false);
    expect(ids.every((id) => selectedForVerification(id, 10_000))).toBe(true);
  });

  it('derives a stable positive 31-bit seed per job', () => {
    const id = randomUUID();
    expect(seedFor(id)).toBe(seedFor(id));
    expect(seedFor(id)).toBeGreaterThanOrEqual(0);
    expect(seedFor(id)).toBeLessThan(2 ** 31);
    expect(seedFor(randomUUID())).not.toBe(seedFor(id));
  });

  it('passes at or above the threshold', () => {
    expect(verdict(9_000, 9_000)).toBe('PASSED');
    expect(verdict(8_999, 9_000)).toBe('FAILED');
  });
});

describe('verification money', () => {
  const o = { notionalFen: 40_000n, tokens: 1_000_000n };
  it('values tokens at the obligation price, rounded down', () => {
    expect(valueAtObligationPrice(o, 42n)).toBe(1n);
    expect(valueAtObligationPrice({ notionalFen: 4_000_000n, tokens: 1_000_000n }, 42n)).toBe(168n);
    expect(valueAtObligationPrice({ notionalFen: 1n, tokens: 0n }, 42n)).toBe(0n);
  });
  it('penalises penaltyBp of the job value, rounded against the seller', () => {
    expect(verificationPenaltyFen({ notionalFen: 4_000_000n, tokens: 1_000_000n }, 42n, 2_000)).toBe(34n);
    expect(verificationPenaltyFen({ notionalFen: 4_000_000n, tokens: 1_000_000n }, 50n, 2_000)).toBe(40n);
    expect(verificationPenaltyFen(o, 10n, 2_000)).toBe(0n);
  });
});
