import { createHash } from 'node:crypto';
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
  OUTBOX_RELAY_TIMEOUT_MS: intIn(100, 600_000, 30_000),
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
  INDEX_MIN_VOLUME_TOKENS: intIn(0, Number.MAX_SAFE_INTEGER, 10_000_000),
  INTRADAY_MARK_MINUTES: intIn(1, 1_440, 15),
  MARGIN_CALL_DUE_MINUTES: intIn(1, 10_080, 120),
  DATABASE_POOL_MAX: intIn(2, 500, 20),
  DELIVERY_LEASE_MS: intIn(500, 3_600_000, 30_000),
  DELIVERY_MAX_ATTEMPTS: intIn(1, 100, 5),
  DELIVERY_REAP_MS: intIn(50, 60_000, 1_000),
  DELIVERY_STALE_MS: intIn(200, 3_600_000, 10_000),
  DELIVERY_MAX_LEASE_WAIT_S: intIn(0, 60, 20),
  DELIVERY_MAX_TOKENS: intIn(1, 1_000_000, 32_768),
  WEBHOOK_TIMEOUT_MS: intIn(100, 60_000, 5_000),
  METERING_MAX_TOKENS_PER_SECOND: intIn(1, 100_000_000, 20_000),
  /** `off` only to measure what auditing node requests costs (bench:delivery); refused in production. */
  NODE_AUDIT: z.enum(['on', 'off']).default('on'),
  /** Worker threads that count tokens (SPEC §6.1); 0 counts on the event loop. */
  COUNTING_THREADS: intIn(0, 16, 1),
  /**
   * The secret that keys which completed jobs are re-run for verification and the seed each job
   * runs with (SPEC §6.1). Required in production. Elsewhere derived from the database URL and the
   * queue prefix, which every copy of one deployment shares: the copies must agree, because a job
   * and its re-run may be leased from different copies and must carry the same seed.
   */
  VERIFICATION_SAMPLING_KEY: z.string().min(32).optional(),
  /** Hosts a callbackUrl may name over plain http and inside addresses (tests, development). */
  WEBHOOK_ALLOW_HOSTS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[a-z0-9.:-]{1,253}$/, 'must be comma-separated host names or IP addresses'))),
  /** First retry delay of a webhook (exponential from there); tests shorten it. */
  WEBHOOK_RETRY_DELAY_MS: intIn(10, 600_000, 1_000),
  WEBHOOK_MAX_RESPONSE_BYTES: intIn(0, 1_048_576, 16_384),
  /** A withdrawal above this amount (CNY) needs the approval of two different people. */
  WITHDRAWAL_FOUR_EYES_ABOVE: z
    .string()
    .default('100000.00')
    .pipe(z.string().regex(/^\d{1,15}(\.\d{1,2})?$/, 'must be an amount in CNY, e.g. 100000.00'))
    .transform((v) => {
      const [yuan, fen = ''] = v.split('.');
      return BigInt(yuan) * 100n + BigInt(fen.padEnd(2, '0'));
    }),
  REGIONS: csv('cn-north-1,cn-east-1,cn-east-2,cn-south-1,cn-west-1'),
  MODEL_CLASSES: csv('llm-8b-instruct,llm-70b-instruct,llm-400b-moe'),
  STREAM_MAX_BUFFER_BYTES: intIn(1_024, 1_073_741_824, 1_048_576),
  STREAM_PING_INTERVAL_MS: intIn(50, 600_000, 30_000),
  STREAM_IDLE_TIMEOUT_MS: intIn(50, 3_600_000, 30_000),
  STREAM_CLOSE_GRACE_MS: intIn(0, 60_000, 5_000),
  STREAM_MAX_SUBSCRIPTIONS: intIn(1, 10_000, 100),
  // The CCP's settlement account, the debtor of every pain.001 (dev defaults: a placeholder account).
  CCP_BANK_CODE: z
    .string()
    .regex(/^\d{12}$/, 'must be the 12-digit CNAPS code of the bank')
    .default('102100099996'),
  CCP_ACCOUNT_NUMBER: z
    .string()
    .regex(/^[A-Za-z0-9]{1,34}$/, 'must be 1-34 letters or digits')
    .default('0200000000000000001'),
  CCP_NAME: z
    .string()
    .trim()
    .min(1)
    .max(140)
    // It goes into every payment file as the debtor's name, where XML forbids most control characters.
    // eslint-disable-next-line no-control-regex
    .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), 'must not contain control characters')
    .default('TokenClear CCP'),
  DEFAULT_AUCTION_SECONDS: intIn(1, 7 * 86_400, 3_600),
  AUTO_PROPOSE_DEFAULT: bool.default(false),
  DEFAULT_SWEEP_MS: intIn(1_000, 86_400_000, 60_000),
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
  /** A relay pass whose Redis writes have not answered by then is rolled back (its rows stay for the next). */
  outboxRelayTimeoutMs: number;
  regions: readonly string[];
  modelClasses: readonly string[];
  capacity: { heartbeatIntervalMs: number; offlineAfterMs: number; utilisationBp: number };
  /** Traders may not open positions in PHYSICAL series within this many hours of last trading. */
  traderCutoffHours: number;
  /** Matching lanes per process: each series always uses the same one; a lane runs one batch at a time. */
  orderBatchLanes: number;
  settlement: { vwapMinutes: number; chunk: number };
  /** Token index (docs/index-methodology.md): tokens a day's prints must reach for TRADES or DELIVERIES. */
  index: { minVolumeTokens: bigint };
  /** Intraday re-mark period; a MAINTENANCE call is due this many minutes after it opens. */
  risk: { intradayMarkMinutes: number; marginCallDueMinutes: number };
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
    /** No single job decodes faster: a reported duration below counted tokens at this rate is impossible. */
    maxPlausibleTokensPerSecond: number;
    /** Node leases, completions and failures in the audit trail (SPEC §6.2); false only when measuring its cost. */
    auditNodeRequests: boolean;
    /** Worker threads counting prompts and outputs (0: on the event loop). */
    countingThreads: number;
    /** Keys the verification sample: nodes know job ids, so an unkeyed choice would be theirs to predict. */
    verificationSamplingKey: string;
  };
  webhooks: { allowHosts: readonly string[]; retryDelayMs: number; maxResponseBytes: number };
  /** Withdrawals above this (fen) need a second person's approval. */
  withdrawalFourEyesAboveFen: bigint;
  streams: {
    /** A connection whose unsent bytes pass this is closed with 1013 rather than buffered without bound. */
    maxBufferBytes: number;
    /** Ping period; a connection that has not answered the previous ping by the next one is dropped. */
    pingIntervalMs: number;
    /** A connection that neither authenticates nor subscribes within this is closed. */
    idleTimeoutMs: number;
    /** How long a closing (slow or idle) connection may take to read its close frame before it is cut. */
    closeGraceMs: number;
    maxSubscriptions: number;
  };
  /** The CCP's own settlement account: debtor of every payment file. */
  ccpBank: { name: string; bankCode: string; accountNumber: string };
  defaults: {
    /** How long a defaulter's lots take sealed bids. */
    auctionSeconds: number;
    /** Propose (never approve) a default for a member whose margin call is overdue. */
    autoPropose: boolean;
    sweepMs: number;
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
  if (e.NODE_AUDIT === 'off' && e.NODE_ENV === 'production')
    throw new ConfigError(['NODE_AUDIT: off is for measuring its cost and is refused with NODE_ENV=production']);
  if (e.VERIFICATION_SAMPLING_KEY === undefined && e.NODE_ENV === 'production')
    throw new ConfigError(['VERIFICATION_SAMPLING_KEY: required with NODE_ENV=production (32+ random characters, the same in every copy)']);
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
    outboxRelayTimeoutMs: e.OUTBOX_RELAY_TIMEOUT_MS,
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
    index: { minVolumeTokens: BigInt(e.INDEX_MIN_VOLUME_TOKENS) },
    risk: { intradayMarkMinutes: e.INTRADAY_MARK_MINUTES, marginCallDueMinutes: e.MARGIN_CALL_DUE_MINUTES },
    delivery: {
      leaseMs: e.DELIVERY_LEASE_MS,
      maxAttempts: e.DELIVERY_MAX_ATTEMPTS,
      reapMs: e.DELIVERY_REAP_MS,
      staleMs: e.DELIVERY_STALE_MS,
      maxLeaseWaitSeconds: e.DELIVERY_MAX_LEASE_WAIT_S,
      maxTokens: e.DELIVERY_MAX_TOKENS,
      webhookTimeoutMs: e.WEBHOOK_TIMEOUT_MS,
      maxPlausibleTokensPerSecond: e.METERING_MAX_TOKENS_PER_SECOND,
      auditNodeRequests: e.NODE_AUDIT === 'on',
      countingThreads: e.COUNTING_THREADS,
      // Unset outside production: the same in every copy of the deployment (see the variable).
      verificationSamplingKey:
        e.VERIFICATION_SAMPLING_KEY ??
        createHash('sha256').update(`tokenclear-dev-sampling|${e.DATABASE_URL}|${e.QUEUE_PREFIX}`).digest('hex'),
    },
    webhooks: {
      allowHosts: e.WEBHOOK_ALLOW_HOSTS,
      retryDelayMs: e.WEBHOOK_RETRY_DELAY_MS,
      maxResponseBytes: e.WEBHOOK_MAX_RESPONSE_BYTES,
    },
    withdrawalFourEyesAboveFen: e.WITHDRAWAL_FOUR_EYES_ABOVE,
    streams: {
      maxBufferBytes: e.STREAM_MAX_BUFFER_BYTES,
      pingIntervalMs: e.STREAM_PING_INTERVAL_MS,
      idleTimeoutMs: e.STREAM_IDLE_TIMEOUT_MS,
      closeGraceMs: e.STREAM_CLOSE_GRACE_MS,
      maxSubscriptions: e.STREAM_MAX_SUBSCRIPTIONS,
    },
    ccpBank: { name: e.CCP_NAME, bankCode: e.CCP_BANK_CODE, accountNumber: e.CCP_ACCOUNT_NUMBER },
    defaults: { auctionSeconds: e.DEFAULT_AUCTION_SECONDS, autoPropose: e.AUTO_PROPOSE_DEFAULT, sweepMs: e.DEFAULT_SWEEP_MS },
  };
}

export const APP_CONFIG = Symbol('APP_CONFIG');
