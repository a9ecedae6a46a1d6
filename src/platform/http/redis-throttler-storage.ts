import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface.js';
import type { RedisClient } from '../redis/redis-factory.js';

/**
 * Rate-limit counters shared by every API copy (SPEC §6.2: N copies must not mean N× the limit).
 * The same sliding-window counter the in-process storage used — hits in the current window plus
 * the previous window's hits weighted by how much of it still overlaps the last `ttl` — kept in
 * one Redis hash per tracker and updated by one script, atomically, on Redis's own clock (the
 * copies' clocks need not agree). The previous window's weighted share is rounded up: rounded
 * down, a burst that straddled a window boundary got one request past the limit (a client's
 * fifth request 20 ms after its fourth, across the boundary, counted 1 + floor(4 × 0.99) = 4). One round trip per request and throttler; the connection is
 * auto-pipelined.
 *
 * When Redis is away the request is let through (and a warning logged, at most every 10 s):
 * Postgres is the record and the API keeps taking work into its outbox during a Redis outage, so
 * rate limiting must not be what turns that outage into refusals.
 */
const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
local h = redis.call('HMGET', KEYS[1], 's', 'c', 'p')
local s = tonumber(h[1])
local c = tonumber(h[2]) or 0
local p = tonumber(h[3]) or 0
if not s then s = now - (now % ttl) end
local passed = math.floor((now - s) / ttl)
if passed >= 1 then
  if passed == 1 then p = c else p = 0 end
  c = 0
  s = s + passed * ttl
end
c = c + 1
redis.call('HSET', KEYS[1], 's', s, 'c', c, 'p', p)
redis.call('PEXPIRE', KEYS[1], 2 * ttl)
local total = c + math.ceil(p * (1 - (now - s) / ttl))
return {total, math.ceil((s + ttl - now) / 1000)}
`;

type Throttled = RedisClient & { throttleHit(key: string, ttl: number): Promise<[number, number]> };

export class RedisThrottlerStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly logger = new Logger(RedisThrottlerStorage.name);
  private readonly redis: Throttled;
  private lastWarning = 0;

  constructor(
    redis: RedisClient,
    private readonly prefix: string,
  ) {
    redis.defineCommand('throttleHit', { numberOfKeys: 1, lua: SCRIPT });
    this.redis = redis as Throttled;
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    let totalHits: number;
    let toWindowEnd: number;
    try {
      // The tracker is the hash tag: on a Redis Cluster the counters spread over every shard
      // instead of all landing on the queue prefix's slot (the script touches only this key).
      [totalHits, toWindowEnd] = await this.redis.throttleHit(`${this.prefix.replace(/[{}]/g, '')}throttle:{${throttlerName}:${key}}`, ttl);
    } catch (err) {
      const now = Date.now();
      if (now - this.lastWarning > 10_000) {
        this.lastWarning = now;
        this.logger.warn({ err: (err as Error).message }, 'rate-limit store unreachable: requests pass unthrottled until Redis answers');
      }
      return { totalHits: 0, timeToExpire: Math.ceil(ttl / 1000), isBlocked: false, timeToBlockExpire: 0 };
    }
    const isBlocked = totalHits > limit;
    return {
      totalHits,
      timeToExpire: toWindowEnd,
      isBlocked,
      timeToBlockExpire: isBlocked ? Math.max(toWindowEnd, Math.ceil(blockDuration / 1000)) : 0,
    };
  }

  async onApplicationShutdown(): Promise<void> {
    this.redis.disconnect();
  }
}
