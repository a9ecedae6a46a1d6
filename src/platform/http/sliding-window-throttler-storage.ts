import type { ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface.js';

interface Window {
  start: number;
  current: number;
  previous: number;
}

/**
 * Rate-limit counters in O(1) per request. The throttler's built-in memory storage keeps one
 * timestamp per hit and filters them all on every request: with a large limit (100,000 a
 * minute) that filter cost the order path ~8 % of its CPU. This is the usual sliding-window
 * counter: hits in the current window plus the previous window's hits weighted by how much
 * of it still overlaps the last `ttl` — within one window's rounding of an exact sliding log.
 */
export class SlidingWindowThrottlerStorage implements ThrottlerStorage {
  private readonly windows = new Map<string, Window>();
  private lastSweep = Date.now();

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    const now = Date.now();
    this.sweep(now, ttl);
    const id = `${throttlerName}:${key}`;
    let w = this.windows.get(id);
    if (!w) this.windows.set(id, (w = { start: now - (now % ttl), current: 0, previous: 0 }));
    const passed = Math.floor((now - w.start) / ttl);
    if (passed >= 1) {
      w.previous = passed === 1 ? w.current : 0;
      w.current = 0;
      w.start += passed * ttl;
    }
    w.current++;
    const overlap = 1 - (now - w.start) / ttl;
    const totalHits = w.current + Math.floor(w.previous * overlap);
    const isBlocked = totalHits > limit;
    const toWindowEnd = Math.ceil((w.start + ttl - now) / 1000);
    return {
      totalHits,
      timeToExpire: toWindowEnd,
      isBlocked,
      timeToBlockExpire: isBlocked ? Math.max(toWindowEnd, Math.ceil(blockDuration / 1000)) : 0,
    };
  }

  /** Forgets trackers idle for two windows, at most once per window. */
  private sweep(now: number, ttl: number): void {
    if (now - this.lastSweep < ttl) return;
    this.lastSweep = now;
    for (const [id, w] of this.windows) if (now - w.start >= 2 * ttl) this.windows.delete(id);
  }
}
