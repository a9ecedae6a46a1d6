/** What BullMQ needs from Redis, read from INFO (works where CONFIG is disabled, as on managed Redis). */
export interface RedisSafety {
  maxmemoryPolicy: string;
  aofEnabled: boolean;
}

export function parseRedisInfo(info: string): RedisSafety {
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
  return { maxmemoryPolicy: field('maxmemory_policy') ?? 'unknown', aofEnabled: field('aof_enabled') === '1' };
}

export class RedisPolicyError extends Error {}

/**
 * An evicting Redis silently drops queued jobs and job locks under memory pressure: refuse it.
 * Without AOF a Redis restart loses queues; Postgres (outbox, reaper) recovers them, so warn only.
 */
export function assessRedis(s: RedisSafety, where: string): { warning?: string } {
  if (s.maxmemoryPolicy !== 'noeviction') {
    throw new RedisPolicyError(
      `Redis at ${where} has maxmemory-policy=${s.maxmemoryPolicy}; TokenClear's queues need noeviction ` +
        `(an evicting Redis drops jobs and locks). Set "maxmemory-policy noeviction" in redis.conf or run CONFIG SET maxmemory-policy noeviction.`,
    );
  }
  return s.aofEnabled
    ? {}
    : {
        warning: `Redis at ${where} runs without AOF (appendonly no): a Redis restart loses queued jobs until the outbox relay and delivery reaper re-queue them from Postgres`,
      };
}
