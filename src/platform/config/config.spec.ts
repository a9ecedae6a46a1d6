import { describe, expect, it } from 'vitest';
import { ConfigError, loadEnvConfig } from './config.js';

describe('loadEnvConfig', () => {
  it('applies the documented defaults, embedded when no URLs are given', () => {
    const c = loadEnvConfig({});
    expect(c).toMatchObject({
      port: 3000,
      queuePrefix: '{tokenclear}',
      eodCutoff: '15:00',
      businessTimeZone: 'Asia/Shanghai',
      logLevel: 'info',
      role: 'all',
      embedded: { postgres: true, redis: true },
      migrateOnStart: true,
    });
    expect(c.regions).toEqual(['cn-north-1', 'cn-east-1', 'cn-east-2', 'cn-south-1', 'cn-west-1']);
    expect(c.modelClasses).toEqual(['llm-8b-instruct', 'llm-70b-instruct', 'llm-400b-moe']);
  });

  it('uses given services and migrates on start only when asked', () => {
    const c = loadEnvConfig({ DATABASE_URL: 'postgresql://u@h/db', REDIS_URL: 'redis://h:6379', MIGRATE_ON_START: 'true' });
    expect(c.embedded).toMatchObject({ postgres: false, redis: false, pgPort: 54329, redisPort: 63799 });
    expect(c.migrateOnStart).toBe(true);
    expect(loadEnvConfig({ DATABASE_URL: 'postgresql://u@h/db' }).migrateOnStart).toBe(false);
  });

  it('takes a Redis Cluster (no embedded Redis) and a read replica with its lag limit', () => {
    const c = loadEnvConfig({
      REDIS_CLUSTER_NODES: 'r1:7000, r2.internal:7001',
      DATABASE_READ_URL: 'postgresql://u@replica/db',
      READ_MAX_LAG_MS: '250',
    });
    expect(c.redisClusterNodes).toEqual([
      { host: 'r1', port: 7000 },
      { host: 'r2.internal', port: 7001 },
    ]);
    expect(c.embedded.redis).toBe(false);
    expect(c.redisUrl).toBe('redis://r1:7000');
    expect(c).toMatchObject({ databaseReadUrl: 'postgresql://u@replica/db', readMaxLagMs: 250 });
    expect(loadEnvConfig({}).readMaxLagMs).toBe(5_000);
    expect(() => loadEnvConfig({ REDIS_CLUSTER_NODES: 'redis://r1:7000' })).toThrow(/REDIS_CLUSTER_NODES.*must be host:port/);
    expect(() => loadEnvConfig({ DATABASE_READ_URL: 'mysql://x' })).toThrow(/DATABASE_READ_URL/);
  });

  it.each([
    ['PORT', 'abc', /PORT: must be a whole number/],
    ['PORT', '70000', /PORT/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL: must be a postgres or postgresql URL/],
    ['REDIS_URL', 'http://x', /REDIS_URL/],
    ['QUEUE_PREFIX', 'tokenclear', /QUEUE_PREFIX: must contain a Redis Cluster hash tag/],
    ['EOD_CUTOFF', '25:00', /EOD_CUTOFF: must be HH:MM/],
    ['MIGRATE_ON_START', 'maybe', /MIGRATE_ON_START/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL/],
    ['BOOTSTRAP_CLEARING_KEY', 'short', /BOOTSTRAP_CLEARING_KEY/],
    ['REGIONS', 'cn east', /REGIONS/],
  ])('refuses %s=%s with a message naming the variable', (name, value, message) => {
    expect(() => loadEnvConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadEnvConfig({ [name]: value })).toThrow(message);
  });

  it('NODE_AUDIT=off (for measuring the node audit only) is refused in production; counting threads are bounded', () => {
    expect(loadEnvConfig({}).delivery).toMatchObject({ auditNodeRequests: true, countingThreads: 1 });
    expect(loadEnvConfig({ NODE_AUDIT: 'off' }).delivery.auditNodeRequests).toBe(false);
    expect(() => loadEnvConfig({ NODE_AUDIT: 'off', NODE_ENV: 'production' })).toThrow(
      /NODE_AUDIT: off .* refused with NODE_ENV=production/,
    );
    expect(() => loadEnvConfig({ NODE_AUDIT: 'maybe' })).toThrow(ConfigError);
    expect(loadEnvConfig({ COUNTING_THREADS: '0' }).delivery.countingThreads).toBe(0);
    expect(() => loadEnvConfig({ COUNTING_THREADS: '17' })).toThrow(/COUNTING_THREADS/);
  });

  it('VERIFICATION_SAMPLING_KEY is required in production, shared by the copies of a deployment elsewhere, and at least 32 characters', () => {
    expect(() => loadEnvConfig({ NODE_ENV: 'production' })).toThrow(/VERIFICATION_SAMPLING_KEY: required with NODE_ENV=production/);
    const key = 'v'.repeat(32);
    expect(loadEnvConfig({ NODE_ENV: 'production', VERIFICATION_SAMPLING_KEY: key }).delivery.verificationSamplingKey).toBe(key);
    expect(() => loadEnvConfig({ VERIFICATION_SAMPLING_KEY: 'short' })).toThrow(/VERIFICATION_SAMPLING_KEY/);
    // Unset outside production: every copy of one deployment derives the same; another deployment another.
    const a = loadEnvConfig({}).delivery.verificationSamplingKey;
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(loadEnvConfig({}).delivery.verificationSamplingKey).toBe(a);
    expect(loadEnvConfig({ QUEUE_PREFIX: '{other}' }).delivery.verificationSamplingKey).not.toBe(a);
  });

  it('reports every bad variable at once', () => {
    try {
      loadEnvConfig({ PORT: 'x', EOD_CUTOFF: 'noon' });
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).problems).toHaveLength(2);
    }
  });
});
