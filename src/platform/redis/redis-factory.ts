import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { AppConfig } from '../config/config.js';

/**
 * What a connection is for:
 * - `producer`: queue adds, rate-limit counters — fail fast while Redis is away (the outbox holds
 *   the work in Postgres and the relay retries; the rate limiter lets requests through);
 * - `worker`: BullMQ workers — wait for Redis however long it takes;
 * - `lease`: the node queues' manual-processing workers — never block, fail fast like producers;
 * - `probe`: health and policy checks — connect on demand, fail fast.
 */
export type RedisRole = 'producer' | 'worker' | 'lease' | 'probe';

export type RedisClient = Redis | Cluster;

export type RedisTarget = Pick<AppConfig, 'redisUrl' | 'redisClusterNodes'>;

export interface RedisClientOptions {
  /** Commands issued in the same tick go out in one write (never on a blocking connection). */
  autoPipelining?: boolean;
  /** Probes: give up at the first failed connection instead of retrying. */
  noReconnect?: boolean;
}

const CONNECT_TIMEOUT_MS = 2_000;
/** A command outlives a failover (node timeout + election) on a cluster, but not a dead one. */
const CLUSTER_COMMAND_TIMEOUT_MS = 10_000;

const retry = (times: number) => Math.min(200 * times, 2_000);

/** Credentials, TLS and database from a redis:// URL (on a cluster: credentials and TLS only). */
function fromUrl(redisUrl: string): RedisOptions {
  const u = new URL(redisUrl);
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
  };
}

function roleOptions(role: RedisRole): RedisOptions {
  switch (role) {
    case 'worker':
      return { maxRetriesPerRequest: null };
    case 'lease':
      // BullMQ requires maxRetriesPerRequest null on any worker's connection; the offline queue
      // off is what makes a lease request answer empty at once while Redis is away.
      return { maxRetriesPerRequest: null, enableOfflineQueue: false };
    case 'producer':
      return { maxRetriesPerRequest: 1, enableOfflineQueue: false };
    case 'probe':
      return { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true };
  }
}

/** ioredis options for one Redis server (no cluster): what every connection used before the factory. */
export function standaloneOptions(redisUrl: string, role: RedisRole, opts: RedisClientOptions = {}): RedisOptions {
  return {
    ...fromUrl(redisUrl),
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: opts.noReconnect ? () => null : retry,
    ...roleOptions(role),
    enableAutoPipelining: opts.autoPipelining === true,
  };
}

/**
 * ioredis Cluster options. A cluster is not 'ready' until it has read the slot map, and with the
 * offline queue off ioredis refuses every command until then — so the offline queue stays on
 * (BullMQ's own readiness check needs it) and fail-fast roles get a command timeout instead. A
 * command to a master that just died is retried by ioredis while a replica is promoted.
 */
export function clusterOptions(target: RedisTarget, role: RedisRole, opts: RedisClientOptions = {}): ClusterOptions {
  const { username, password, tls } = target.redisUrl ? fromUrl(target.redisUrl) : {};
  const r = roleOptions(role);
  return {
    redisOptions: {
      username,
      password,
      tls,
      connectTimeout: CONNECT_TIMEOUT_MS,
      maxRetriesPerRequest: r.maxRetriesPerRequest,
      // Not on worker connections: BullMQ duplicates them for its blocking reads.
      ...(role === 'producer' || role === 'probe' ? { commandTimeout: CLUSTER_COMMAND_TIMEOUT_MS } : {}),
    },
    enableOfflineQueue: true,
    lazyConnect: r.lazyConnect === true,
    enableAutoPipelining: opts.autoPipelining === true,
    clusterRetryStrategy: opts.noReconnect ? () => null : retry,
    // While a replica is promoted, the dead master's slots answer CLUSTERDOWN or not at all.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 100,
    maxRedirections: 64,
    slotsRefreshTimeout: CONNECT_TIMEOUT_MS,
    // Queues and leases read what they just wrote: masters only.
    scaleReads: 'master',
  };
}

/**
 * The one place a Redis connection is made: a Redis Cluster client when REDIS_CLUSTER_NODES is set,
 * else a client of the single server at REDIS_URL. BullMQ takes either as its `connection`; the
 * caller owns the client and closes it after what uses it (BullMQ leaves a passed-in client open).
 * On a cluster every key a script or MULTI touches must share a hash slot: BullMQ's keys all start
 * with the queue prefix, which carries a {hash tag} (QUEUE_PREFIX is validated for it).
 */
export function createRedis(target: RedisTarget, role: RedisRole, opts: RedisClientOptions = {}): RedisClient {
  if (target.redisClusterNodes?.length) return new Cluster([...target.redisClusterNodes], clusterOptions(target, role, opts));
  return new Redis(standaloneOptions(target.redisUrl, role, opts));
}

export const isCluster = (client: RedisClient): client is Cluster => client instanceof Cluster;

/** The INFO text of every master (one entry for a single server), for the eviction-policy check. */
export async function infoOfMasters(client: RedisClient): Promise<{ node?: string; info: string }[]> {
  if (!isCluster(client)) return [{ info: await client.info() }];
  return Promise.all(client.nodes('master').map(async (n) => ({ node: `${n.options.host}:${n.options.port}`, info: await n.info() })));
}
