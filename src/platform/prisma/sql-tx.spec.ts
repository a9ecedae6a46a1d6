import fc from 'fast-check';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { arrayLiteral } from './sql-tx.js';

// pg's own conversion of a parameter (what it would send for the same value).
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils') as { prepareValue: (v: unknown) => unknown };

describe('arrayLiteral: the literal pg would send for a list of scalars', () => {
  it('equals pg’s for any texts and nulls, quotes and backslashes included', () => {
    const text = fc.oneof(fc.uuid(), fc.string({ unit: fc.constantFrom('a', '"', '\\', ',', '{', '}', ' ', 'é', '交') }), fc.string());
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 5, arbitrary: text }, { weight: 1, arbitrary: fc.constant(null) }), { minLength: 1 }),
        (xs) => {
          expect(arrayLiteral(xs)).toBe(prepareValue(xs));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('equals pg’s for numbers, booleans and bigints, mixed with texts and nulls', () => {
    const scalar = fc.oneof(
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.bigInt(),
      fc.constantFrom(-0, NaN, Infinity),
      fc.uuid(),
      fc.constant(null),
    );
    fc.assert(
      fc.property(fc.array(scalar, { minLength: 1 }), (xs) => {
        expect(arrayLiteral(xs)).toBe(prepareValue(xs));
      }),
      { numRuns: 2_000 },
    );
  });

  it('leaves everything else to pg: other element types, empty lists, non-lists', () => {
    for (const v of [[['a']], ['a', { b: 1 }], [], 'text', 3, null, [new Date(0)], [Buffer.from('x')]]) expect(arrayLiteral(v)).toBe(v);
  });
});
