import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nulAt } from './validation.js';

/** The first version, which built every element's path on the way down: the reference. */
function nulAtByPaths(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const at = nulAtByPaths(value[i], `${path}[${i}]`);
      if (at !== undefined) return at;
    }
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const field = path ? `${path}.${k}` : k;
      if (k.includes('\u0000')) return field;
      const at = nulAtByPaths(v, field);
      if (at !== undefined) return at;
    }
  }
  return undefined;
}

describe('nulAt: where a request body holds U+0000', () => {
  it('names the field as a body would be read: messages[1].content', () => {
    expect(nulAt({ jobs: [{ messages: [{ content: 'a' }, { role: 'user', content: 'b\u0000' }] }] })).toBe('jobs[0].messages[1].content');
    expect(nulAt({ ['k\u0000']: 1 })).toBe('k\u0000');
    expect(nulAt(['a', '\u0000'])).toBe('[1]');
    expect(nulAt('\u0000')).toBe('');
    expect(nulAt({ a: ['x', { b: 'y' }], c: 3, d: null })).toBeUndefined();
  });

  it('agrees with the path-building reference on any JSON, NULs sprinkled in keys and values', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'b', '\u0000', '.', '[', ' ') });
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, text, fc.integer(), fc.boolean(), fc.constant(null), tie('array'), tie('object')),
      array: fc.array(tie('value'), { maxLength: 4 }),
      object: fc.dictionary(text, tie('value'), { maxKeys: 4 }),
    })).value;
    fc.assert(
      fc.property(json, (v) => {
        expect(nulAt(v)).toBe(nulAtByPaths(v));
      }),
      { numRuns: 3_000 },
    );
  });
});
