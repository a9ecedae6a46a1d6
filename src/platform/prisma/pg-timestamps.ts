import pg from 'pg';

const TIMESTAMPTZ = 1184;
const viaPostgresDate = pg.types.getTypeParser(TIMESTAMPTZ, 'text') as (value: string) => Date;
const DIGIT_0 = 48;

/** The number the ASCII digits of s[from, to) spell; NaN if one is not a digit. */
function digits(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - DIGIT_0;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
}

/**
 * timestamptz as Postgres sends it to a session in UTC ("2026-12-06 15:02:58.123456+00"), read
 * without postgres-date's regular expressions: the hot statements return several timestamps a job
 * (the lease's claim five), and pg's parser was 2 % of the API's time in bench:delivery. Anything
 * else (another time zone, BC, infinity, a year past 9999) goes to pg's own parser; the answer is
 * the same Date either way (microseconds truncated to milliseconds, as pg does).
 */
export function parseTimestamptz(s: string): Date {
  const n = s.length;
  if (n < 22 || n > 29 || s.charCodeAt(10) !== 32 || !s.endsWith('+00') || (n > 22 && s.charCodeAt(19) !== 46)) return viaPostgresDate(s);
  const fraction = n > 22 ? s.slice(20, n - 3) : '';
  const ms = fraction.length === 0 ? 0 : digits((fraction + '00').slice(0, 3), 0, 3);
  const time = Date.UTC(
    digits(s, 0, 4),
    digits(s, 5, 7) - 1,
    digits(s, 8, 10),
    digits(s, 11, 13),
    digits(s, 14, 16),
    digits(s, 17, 19),
    ms,
  );
  // A malformed digit (NaN) or a year Date.UTC reads as 19xx (0–99): pg's parser decides.
  return Number.isNaN(time) || s.charCodeAt(0) === DIGIT_0 ? viaPostgresDate(s) : new Date(time);
}

/** pg's type parsers with timestamptz read by `parseTimestamptz`: for the hand-written statements (SqlTx). */
export const fastTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMPTZ && format !== 'binary'
      ? parseTimestamptz
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};
