import fc from 'fast-check';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parseTimestamptz } from './pg-timestamps.js';

const viaPostgresDate = pg.types.getTypeParser(1184, 'text') as (value: string) => Date | number;
const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** A timestamptz as Postgres prints it to a session in UTC: fraction trimmed of trailing zeros, none when whole. */
function asPostgresPrintsIt(year: number, month: number, day: number, h: number, m: number, s: number, micros: number): string {
  const fraction = micros === 0 ? '' : `.${pad(micros, 6).replace(/0+$/, '')}`;
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)} ${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}${fraction}+00`;
}

describe('parseTimestamptz: the same Date as pg/postgres-date', () => {
  it('for every UTC timestamp Postgres prints, fractions of any length included', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9999 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 28 }),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 59 }),
        fc.integer({ min: 0, max: 59 }),
        fc.oneof(
          fc.constant(0),
          fc.integer({ min: 0, max: 999_999 }),
          fc.integer({ min: 0, max: 999 }).map((ms) => ms * 1000),
        ),
        (...parts) => {
          const text = asPostgresPrintsIt(...parts);
          expect(parseTimestamptz(text).getTime(), text).toBe((viaPostgresDate(text) as Date).getTime());
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it('hands what is not a plain UTC timestamp to pg: other zones, BC, infinity, malformed digits', () => {
    for (const text of [
      '2026-12-06 15:02:58.123456+05:30',
      '2026-12-06 15:02:58-08',
      '0044-03-15 12:00:00+00 BC',
      '0099-01-01 00:00:00+00',
      '2026-12-06 15:02:5x+00',
      'infinity',
      '-infinity',
    ]) {
      const time = (v: unknown) => (v instanceof Date ? v.getTime() : v);
      expect(time(parseTimestamptz(text)), text).toStrictEqual(time(viaPostgresDate(text)));
    }
  });
});
