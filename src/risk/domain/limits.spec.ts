import { describe, expect, it } from 'vitest';
import { anchorPrice, breachesLimit, inSpotMonth, limitUsageBp, outsideBand } from './limits.js';

describe('position limits and the circuit breaker', () => {
  it('a limit stops growth past it, never a reduction', () => {
    expect(breachesLimit(10, 8, 11)).toBe(true);
    expect(breachesLimit(10, 12, 11)).toBe(false);
    expect(breachesLimit(10, 4, 10)).toBe(false);
    expect(breachesLimit(null, 0, 1_000)).toBe(false);
  });

  it('spot month: from 30 days before delivery start', () => {
    const start = new Date('2026-12-31T00:00:00Z');
    expect(inSpotMonth(start, new Date('2026-12-01T00:00:00Z'))).toBe(true);
    expect(inSpotMonth(start, new Date('2026-11-30T23:59:59Z'))).toBe(false);
  });

  it('usage in bp', () => {
    expect(limitUsageBp(8, 10)).toBe(8_000);
    expect(limitUsageBp(7, 10)).toBe(7_000);
    expect(limitUsageBp(3, null)).toBeNull();
  });

  it('anchor: the newer of an old trade and a breach, else the reference', () => {
    const t = (s: string) => new Date(s);
    expect(anchorPrice({ referenceFen: 400n })).toBe(400n);
    expect(anchorPrice({ referenceFen: 400n, oldTrade: { priceFen: 410n, at: t('2026-12-01T01:00:00Z') } })).toBe(410n);
    expect(
      anchorPrice({
        referenceFen: 400n,
        oldTrade: { priceFen: 410n, at: t('2026-12-01T01:00:00Z') },
        breach: { priceFen: 450n, at: t('2026-12-01T02:00:00Z') },
      }),
    ).toBe(450n);
  });

  it('band rounded inward', () => {
    expect(outsideBand(420n, 400n, 500)).toBe(false);
    expect(outsideBand(421n, 400n, 500)).toBe(true);
    expect(outsideBand(380n, 400n, 500)).toBe(false);
    expect(outsideBand(379n, 400n, 500)).toBe(true);
  });
});
