import { afterEach, describe, expect, it, vi } from 'vitest';
import { SlidingWindowThrottlerStorage } from './sliding-window-throttler-storage.js';

describe('SlidingWindowThrottlerStorage', () => {
  afterEach(() => vi.useRealTimers());

  it('blocks past the limit within a window, per tracker', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const s = new SlidingWindowThrottlerStorage();
    const hits = [];
    for (let i = 0; i < 4; i++) hits.push(await s.increment('a', 1_000, 3, 0, 'default'));
    expect(hits.map((h) => [h.totalHits, h.isBlocked])).toEqual([
      [1, false],
      [2, false],
      [3, false],
      [4, true],
    ]);
    expect(hits[3].timeToBlockExpire).toBeGreaterThan(0);
    expect((await s.increment('b', 1_000, 3, 0, 'default')).totalHits).toBe(1);
  });

  it('weights the previous window by its overlap with the last ttl, and forgets it after two', async () => {
    vi.useFakeTimers({ now: 2_000_000 });
    const s = new SlidingWindowThrottlerStorage();
    for (let i = 0; i < 10; i++) await s.increment('a', 1_000, 100, 0, 'default');
    vi.setSystemTime(2_000_000 + 1_250); // a quarter into the next window: 75 % of the 10 still count
    expect((await s.increment('a', 1_000, 100, 0, 'default')).totalHits).toBe(1 + 7);
    vi.setSystemTime(2_000_000 + 3_100); // two windows later: nothing of the past counts
    expect((await s.increment('a', 1_000, 100, 0, 'default')).totalHits).toBe(1);
  });
});
