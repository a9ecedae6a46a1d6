import { z } from 'zod';

// The only reader of process.env. Everything else receives AppConfig through DI.

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

const csv = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/)).min(1));

const intIn = (min: number, max: number, fallback: number) =>
  z
    .string()
    .default(String(fallback))
    .pipe(z.string().regex(/^\d+$/, 'must be a whole number'))
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const url = (protocols: string[]) =>
  z
    .string()
    .optional()
    .refine((v) => v === undefined || protocols.some((p) => v.startsWith(`${p}://`)), {
      message: `must be a ${protocols.join(' or ')} URL`,
    });

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PROCESS_ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: intIn(0, 65535, 3000),
  DATABASE_URL: url(['postgres', 'postgresql']),
  REDIS_URL: url(['redis', 'rediss']),
  // host:port,… of Redis Cluster nodes (any few; the rest are discovered). REDIS_URL, when also
  // set, gives only the credentials and TLS.
  REDIS_CLUSTER_NODES: z
    .string()
    .optional()
    .transform((v) =>
      v === undefined
        ? undefined
        : v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
    )
    .pipe(
      z
        .array(z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'must be host:port,host:port,…'))
        .min(1)
        .optional(),
    ),
  DATABASE_READ_URL: url(['postgres', 'postgresql']),
  READ_MAX_LAG_MS: intIn(0, 3_600_000, 5_000),
  // Whose X-Forwarded-For to believe (express 'trust proxy'): the load balancer's hop, e.g.
  // 'loopback, uniquelocal' when nginx or an ingress runs on a private network.
  TRUST_PROXY: z.string().min(1).default('loopback'),
  DATA_DIR: z.string().min(1).default('./.data'),
  EMBEDDED_PG_PORT: intIn(1, 65535, 54329),
  EMBEDDED_REDIS_PORT: intIn(1, 65535, 63799),
  QUEUE_PREFIX: z
    .string()
    .default('{tokenclear}')
    .refine((v) => /\{[^{}]+\}/.test(v), {
      message: 'must contain a Redis Cluster hash tag such as {tokenclear}',
    }),
  BOOTSTRAP_CLEARING_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{32,200}$/, 'must be 32-200 characters of [A-Za-z0-9_-]')
    .optional(),
  MIGRATE_ON_START: bool.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  EOD_CUTOFF: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24h, Asia/Shanghai)')
    .default('15:00'),
  THROTTLE_LIMIT: intIn(1, 10_000_000, 100_000),
  THROTTLE_TTL_MS: intIn(1, 3_600_000, 60_000),
  THROTTLE_KEY_LIMIT: intIn(1, 10_000_000, 100_000),
  SHUTDOWN_GRACE_MS: intIn(100, 9_000, 8_000),
  WORKER_LOCK_MS: intIn(500, 600_000, 30_000),
  OUTBOX_POLL_MS: intIn(10, 60_000, 200),
  HEARTBEAT_INTERVAL_MS: intIn(100, 3_600_000, 10_000),
  NODE_OFFLINE_AFTER_MS: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(100).max(86_400_000))
    .optional(),
  CAPACITY_UTILISATION_BP: intIn(1, 10_000, 8_000),
  TRADER_CUTOFF_HOURS: intIn(0, 8_760, 24),
  ORDER_BATCH_LANES: intIn(1, 64, 1),
  SETTLEMENT_VWAP_MINUTES: intIn(1, 1_440, 30),
  SETTLEMENT_CHUNK: intIn(1, 1_000_000, 5_000),
  DATABASE_POOL_MAX: intIn(2, 500, 20),
  DELIVERY_LEASE_MS: intIn(500, 3_600_000, 30_000),
  DELIVERY_MAX_ATTEMPTS: intIn(1, 100, 5),
  DELIVERY_REAP_MS: intIn(50, 60_000, 1_000),
  DELIVERY_STALE_MS: intIn(200, 3_600_000, 10_000),
  DELIVERY_MAX_LEASE_WAIT_S: intIn(0, 60, 20),
  DELIVERY_MAX_TOKENS: intIn(1, 1_000_000, 32_768),
  WEBHOOK_TIMEOUT_MS: intIn(100, 60_000, 5_000),
  REGIONS: csv('cn-north-1,cn-east-1,cn-east-2,cn-south-1,cn-west-1'),
  MODEL_CLASSES: csv('llm-8b-instruct,llm-70b-instruct,llm-400b-moe'),
});

export type AppConfig = Readonly<{
  env: 'development' | 'production' | 'test';
  role: 'all' | 'api' | 'worker';
  host: string;
  port: number;
  /** Set after embedded services start when the environment did not give one. */
  databaseUrl: string;
  /** Connections this process may hold (interactive transactions keep one each while open). */
  databasePoolMax: number;
  redisUrl: string;
  /** Set: BullMQ, leases and rate limits run on this Redis Cluster (see platform/redis). */
  redisClusterNodes?: readonly { host: string; port: number }[];
  /** A streaming replica for read-only endpoints; never for anything that decides money. */
  databaseReadUrl?: string;
  /** Replica reads fall back to the primary while the replica is further behind than this. */
  readMaxLagMs: number;
  /** Express 'trust proxy': the hops whose X-Forwarded-For names the client (per-address rate limits). */
  trustProxy: string;
  embedded: { postgres: boolean; redis: boolean; pgPort: number; redisPort: number };
  dataDir: string;
  queuePrefix: string;
  bootstrapClearingKey?: string;
  migrateOnStart: boolean;
  logLevel: string;
  eodCutoff: string;
  businessTimeZone: 'Asia/Shanghai';
  throttle: { limit: number; keyLimit: number; ttlMs: number };
  shutdownGraceMs: number;
  /** BullMQ job lock; a worker that dies is noticed (and its job retried) after about this long. */
  workerLockMs: number;
  outboxPollMs: number;
  regions: readonly string[];
  modelClasses: readonly string[];
  capacity: { heartbeatIntervalMs: number; offlineAfterMs: number; utilisationBp: number };
  /** Traders may not open positions in PHYSICAL series within this many hours of last trading. */
  traderCutoffHours: number;
  /** Matching lanes per process: each series always uses the same one; a lane runs one batch at a time. */
  orderBatchLanes: number;
  settlement: { vwapMinutes: number; chunk: number };
  delivery: {
    /** A leased job not completed, failed or extended (agent heartbeat) within this goes back to dispatch. */
    leaseMs: number;
    /** Dispatches per job (first one included) before it FAILS with the operator-side reason. */
    maxAttempts: number;
    /** How often the reaper looks for expired leases, offline nodes and jobs Redis lost. */
    reapMs: number;
    /** A job with no progress for this long is put back on its queue (e.g. after Redis lost it). */
    staleMs: number;
    maxLeaseWaitSeconds: number;
    maxTokens: number;
    webhookTimeoutMs: number;
  };
}>;

/** Environment as read, before embedded services fill in missing URLs. */
export type EnvConfig = Omit<AppConfig, 'databaseUrl' | 'redisUrl'> & {
  databaseUrl?: string;
  redisUrl?: string;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadEnvConfig(env: NodeJS.ProcessEnv = process.env): EnvConfig {
  // An empty variable counts as unset, as in most twelve-factor tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const cluster = e.REDIS_CLUSTER_NODES?.map((hp) => {
    const at = hp.lastIndexOf(':');
    return { host: hp.slice(0, at), port: Number(hp.slice(at + 1)) };
  });
  return {
    env: e.NODE_ENV,
    role: e.PROCESS_ROLE,
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    // On a cluster the URL names a seed node (for messages); clients use redisClusterNodes.
    redisUrl: e.REDIS_URL ?? (cluster ? `redis://${cluster[0].host}:${cluster[0].port}` : undefined),
    redisClusterNodes: cluster,
    databaseReadUrl: e.DATABASE_READ_URL,
    readMaxLagMs: e.READ_MAX_LAG_MS,
    trustProxy: e.TRUST_PROXY,
    embedded: { postgres: !e.DATABASE_URL, redis: !e.REDIS_URL && !cluster, pgPort: e.EMBEDDED_PG_PORT, redisPort: e.EMBEDDED_REDIS_PORT },
    dataDir: e.DATA_DIR,
    queuePrefix: e.QUEUE_PREFIX,
    bootstrapClearingKey: e.BOOTSTRAP_CLEARING_KEY,
    migrateOnStart: e.MIGRATE_ON_START || !e.DATABASE_URL,
    logLevel: e.LOG_LEVEL,
    eodCutoff: e.EOD_CUTOFF,
    businessTimeZone: 'Asia/Shanghai',
    throttle: { limit: e.THROTTLE_LIMIT, keyLimit: e.THROTTLE_KEY_LIMIT, ttlMs: e.THROTTLE_TTL_MS },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    workerLockMs: e.WORKER_LOCK_MS,
    outboxPollMs: e.OUTBOX_POLL_MS,
    regions: e.REGIONS,
    modelClasses: e.MODEL_CLASSES,
    capacity: {
      heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_MS,
      // Default: silent for three heartbeat intervals.
      offlineAfterMs: e.NODE_OFFLINE_AFTER_MS || 3 * e.HEARTBEAT_INTERVAL_MS,
      utilisationBp: e.CAPACITY_UTILISATION_BP,
    },
    traderCutoffHours: e.TRADER_CUTOFF_HOURS,
    orderBatchLanes: e.ORDER_BATCH_LANES,
    settlement: { vwapMinutes: e.SETTLEMENT_VWAP_MINUTES, chunk: e.SETTLEMENT_CHUNK },
    delivery: {
      leaseMs: e.DELIVERY_LEASE_MS,
      maxAttempts: e.DELIVERY_MAX_ATTEMPTS,
      reapMs: e.DELIVERY_REAP_MS,
      staleMs: e.DELIVERY_STALE_MS,
      maxLeaseWaitSeconds: e.DELIVERY_MAX_LEASE_WAIT_S,
      maxTokens: e.DELIVERY_MAX_TOKENS,
      webhookTimeoutMs: e.WEBHOOK_TIMEOUT_MS,
    },
  };
}

export const APP_CONFIG = Symbol('APP_CONFIG');
