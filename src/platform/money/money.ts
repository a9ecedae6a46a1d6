import { DomainError, type ErrorCode } from '../errors/error-codes.js';

// Money is integer fen (1 CNY = 100 fen) as bigint everywhere; decimal strings on the wire.
// Never a JS number, never a float.

export const CURRENCY = 'CNY';
/** Largest amount a BIGINT column holds: 92233720368547758.07 CNY. */
export const MAX_FEN = 9_223_372_036_854_775_807n;

const CANONICAL = /^(0|[1-9][0-9]*)(\.[0-9]{1,2})?$/;

function fail(code: ErrorCode, field: string, message: string): never {
  throw new DomainError(code, `${field}: ${message}`, [{ field, message }]);
}

/** Parses a decimal-string CNY amount into fen; every kind of bad input has its own code. */
export function parseAmount(value: unknown, field = 'amount', opts: { allowZero?: boolean } = {}): bigint {
  if (typeof value !== 'string') fail('MONEY_NOT_A_STRING', field, 'must be a decimal string such as "100.00"');
  if (value.startsWith('-')) fail('MONEY_NEGATIVE', field, 'must not be negative');
  if (/^[0-9]+\.[0-9]{3,}$/.test(value)) fail('MONEY_TOO_PRECISE', field, 'at most 2 decimals');
  if (!CANONICAL.test(value))
    fail('MONEY_FORMAT', field, 'digits with an optional . and 1-2 decimals, no sign, exponent, spaces or leading zeros');
  const [whole, decimals = ''] = value.split('.');
  const fen = BigInt(whole) * 100n + BigInt(decimals.padEnd(2, '0'));
  if (fen > MAX_FEN) fail('MONEY_OUT_OF_RANGE', field, 'at most 92233720368547758.07');
  if (fen === 0n && !opts.allowZero) fail('MONEY_ZERO', field, 'must be greater than zero');
  return fen;
}

export function parseCurrency(value: unknown, field = 'currency'): typeof CURRENCY {
  if (value !== CURRENCY) fail('CURRENCY_NOT_SUPPORTED', field, 'must be "CNY"');
  return CURRENCY;
}

/** fen → "1234.50" (balances may be negative: "-0.05"). */
export function formatFen(fen: bigint): string {
  const negative = fen < 0n;
  const abs = negative ? -fen : fen;
  const whole = abs / 100n;
  const cents = (abs % 100n).toString().padStart(2, '0');
  return `${negative ? '-' : ''}${whole}.${cents}`;
}

export interface Money {
  amount: string;
  currency: typeof CURRENCY;
}

export function money(fen: bigint): Money {
  return { amount: formatFen(fen), currency: CURRENCY };
}

/**
 * THE rounding rule of TokenClear, stated once: a basis-point charge computed on an amount
 * (fee, margin, penalty) rounds UP to the fen when the member pays it ("against-member") and
 * DOWN when the member receives it ("for-member"). Exact integer arithmetic, no floats.
 */
export function basisPoints(baseFen: bigint, bp: bigint | number, side: 'against-member' | 'for-member'): bigint {
  const rate = BigInt(bp);
  if (baseFen < 0n || rate < 0n) throw new RangeError('basisPoints takes non-negative amounts and rates');
  const product = baseFen * rate;
  const floor = product / 10_000n;
  return side === 'for-member' || product % 10_000n === 0n ? floor : floor + 1n;
}
