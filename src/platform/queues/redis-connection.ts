import type { RedisOptions } from 'bullmq';

/** ioredis options from a redis:// URL. Producers fail fast while Redis is away; workers wait. */
export function redisOptions(redisUrl: string, mode: 'producer' | 'worker' | 'probe'): RedisOptions {
  const u = new URL(redisUrl);
  const base: RedisOptions = {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(200 * times, 2_000),
  };
  if (mode === 'worker') return { ...base, maxRetriesPerRequest: null };
  // Queue producers (outbox relay, API) must not block forever on a dead Redis: the outbox holds
  // the work in Postgres and the relay retries.
  return { ...base, maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: mode === 'probe' };
}
