import { randomUUID } from 'node:crypto';
import { seedFor, selectedForVerification, verdict } from './verification.js';

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
