import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors/error-codes.js';
import { basisPoints, formatFen, parseAmount, parseCurrency } from './money.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof DomainError ? err.code : 'NOT_A_DOMAIN_ERROR';
  }
}

describe('parseAmount', () => {
  it.each([
    ['0.01', 1n],
    ['1', 100n],
    ['1.5', 150n],
    ['1234.50', 123450n],
    ['100.00', 10000n],
    ['92233720368547758.07', 9223372036854775807n],
  ])('accepts %s as %d fen', (input, fen) => {
    expect(parseAmount(input)).toBe(fen);
  });

  it.each([
    [1234.5, 'MONEY_NOT_A_STRING'],
    [100, 'MONEY_NOT_A_STRING'],
    [null, 'MONEY_NOT_A_STRING'],
    [undefined, 'MONEY_NOT_A_STRING'],
    [{ amount: '1' }, 'MONEY_NOT_A_STRING'],
    ['1.005', 'MONEY_TOO_PRECISE'],
    ['0.001', 'MONEY_TOO_PRECISE'],
    ['-0', 'MONEY_NEGATIVE'],
    ['-1.00', 'MONEY_NEGATIVE'],
    ['1e3', 'MONEY_FORMAT'],
    ['1E3', 'MONEY_FORMAT'],
    ['+1.00', 'MONEY_FORMAT'],
    [' 1.00', 'MONEY_FORMAT'],
    ['1.00 ', 'MONEY_FORMAT'],
    ['1,000.00', 'MONEY_FORMAT'],
    ['01.00', 'MONEY_FORMAT'],
    ['.5', 'MONEY_FORMAT'],
    ['1.', 'MONEY_FORMAT'],
    ['', 'MONEY_FORMAT'],
    ['NaN', 'MONEY_FORMAT'],
    ['Infinity', 'MONEY_FORMAT'],
    ['0x10', 'MONEY_FORMAT'],
    ['１.００', 'MONEY_FORMAT'],
    ['0', 'MONEY_ZERO'],
    ['0.00', 'MONEY_ZERO'],
    ['92233720368547758.08', 'MONEY_OUT_OF_RANGE'],
    ['99999999999999999999999', 'MONEY_OUT_OF_RANGE'],
  ])('refuses %j with %s', (input, code) => {
    expect(codeOf(() => parseAmount(input))).toBe(code);
  });

  it('accepts zero where allowed', () => {
    expect(parseAmount('0.00', 'price', { allowZero: true })).toBe(0n);
  });

  it('names the field in the error', () => {
    try {
      parseAmount('x', 'price');
    } catch (err) {
      expect((err as DomainError).errors).toEqual([{ field: 'price', message: expect.any(String) }]);
    }
  });

  it('round-trips every fen amount through formatFen (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 9223372036854775807n }), (fen) => {
        expect(parseAmount(formatFen(fen))).toBe(fen);
      }),
    );
  });
});

describe('parseCurrency', () => {
  it('accepts only CNY', () => {
    expect(parseCurrency('CNY')).toBe('CNY');
    for (const bad of ['USD', 'cny', '', undefined, 156]) expect(codeOf(() => parseCurrency(bad))).toBe('CURRENCY_NOT_SUPPORTED');
  });
});

describe('formatFen', () => {
  it.each([
    [0n, '0.00'],
    [5n, '0.05'],
    [-5n, '-0.05'],
    [123450n, '1234.50'],
    [-100n, '-1.00'],
  ])('%d fen → %s', (fen, text) => expect(formatFen(fen)).toBe(text));
});

describe('basisPoints (the rounding rule)', () => {
  it('rounds up against the member and down in its favour', () => {
    expect(basisPoints(101n, 50, 'against-member')).toBe(1n); // 0.505 fen → 1
    expect(basisPoints(101n, 50, 'for-member')).toBe(0n);
    expect(basisPoints(10_000n, 1_500, 'against-member')).toBe(1_500n); // exact: no rounding
    expect(basisPoints(10_000n, 1_500, 'for-member')).toBe(1_500n);
  });

  it('never differs from the exact value by a fen or more, in the stated direction (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.integer({ min: 0, max: 10_000 }), (base, bp) => {
        const up = basisPoints(base, bp, 'against-member');
        const down = basisPoints(base, bp, 'for-member');
        const exactTimes10k = base * BigInt(bp);
        expect(up * 10_000n >= exactTimes10k).toBe(true);
        expect((up - 1n) * 10_000n < exactTimes10k).toBe(true);
        expect(down * 10_000n <= exactTimes10k).toBe(true);
        expect((down + 1n) * 10_000n > exactTimes10k).toBe(true);
      }),
    );
  });
});
