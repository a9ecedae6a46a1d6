import { describe, expect, it } from 'vitest';
import { addDays, businessDateOf, isValidIsoDate } from './business-date.js';

describe('businessDateOf (Asia/Shanghai, end-of-day cut-off)', () => {
  it('is the Shanghai calendar date before the cut-off and the next date from it', () => {
    // 2026-12-01 14:59 in Shanghai = 06:59 UTC
    expect(businessDateOf(new Date('2026-12-01T06:59:59Z'), '15:00')).toBe('2026-12-01');
    expect(businessDateOf(new Date('2026-12-01T07:00:00Z'), '15:00')).toBe('2026-12-02');
    // 23:30 UTC on Nov 30 is already Dec 1, 07:30 in Shanghai
    expect(businessDateOf(new Date('2026-11-30T23:30:00Z'), '15:00')).toBe('2026-12-01');
  });

  it('rolls over month and year ends', () => {
    expect(businessDateOf(new Date('2026-12-31T08:00:00Z'), '15:00')).toBe('2027-01-01');
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
  });

  it('validates ISO dates', () => {
    expect(isValidIsoDate('2026-12-01')).toBe(true);
    expect(isValidIsoDate('2026-02-30')).toBe(false);
    expect(isValidIsoDate('2026-1-01')).toBe(false);
  });
});
