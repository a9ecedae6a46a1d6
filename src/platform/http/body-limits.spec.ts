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

describe('limitFinder', () => {
  it('matches literal and parameterised paths by method; the largest of several matches wins', async () => {
    const { limitFinder } = await import('./body-limits.js');
    const find = limitFinder([
      { method: 'POST', path: '/v1/delivery/jobs', dto: 'A', limit: 10 },
      { method: 'POST', path: '/v1/delivery/jobs/batch', dto: 'B', limit: 30 },
      { method: 'POST', path: '/v1/delivery/jobs/:id/fail', dto: 'C', limit: 20 },
      { method: 'POST', path: '/v1/delivery/jobs/:id', dto: 'D', limit: 5 },
    ]);
    expect(find('POST', '/v1/delivery/jobs')).toBe(10);
    expect(find('POST', '/v1/delivery/jobs/')).toBe(10);
    expect(find('POST', '/v1/delivery/jobs/batch')).toBe(30);
    expect(find('POST', '/v1/delivery/jobs/123/fail')).toBe(20);
    expect(find('GET', '/v1/delivery/jobs')).toBeUndefined();
    expect(find('POST', '/v1/delivery/jobs/1/2/fail')).toBeUndefined();
  });
});
