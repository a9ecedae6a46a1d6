import { describe, expect, it } from 'vitest';
import { charsOf, patternMaxLength } from './body-limits.js';

describe('patternMaxLength', () => {
  it.each([
    ['^[A-Za-z0-9][A-Za-z0-9._/-]{0,34}$', 35],
    ['^[0-9a-f]{64}$', 64],
    ['^\\d{4}-\\d{2}-\\d{2}$', 10],
    ['^(member:[0-9a-f-]{36}:(cash|margin)|ccp:fees)$', 50],
    ['^(?:ab|c)?x{2,3}$', 5],
    ['^a+$', Infinity],
    ['^a*$', Infinity],
    ['^a{2,}$', Infinity],
    ['[a-z]{3}', Infinity],
    ['^[a-z]{3}', Infinity],
  ])('%s → %s', (pattern, max) => {
    expect(patternMaxLength(pattern)).toBe(max);
    if (Number.isFinite(max)) expect(new RegExp(pattern).test('x'.repeat(max + 1))).toBe(false);
  });

  it('charsOf counts every string value, keys excluded', () => {
    expect(charsOf({ a: 'xy', b: [{ c: 'z' }, 3, null], longKeyName: true })).toBe(3);
  });
});
