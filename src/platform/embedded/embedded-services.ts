import type { AppConfig, EnvConfig } from '../config/config.js';
import { startEmbeddedPostgres, type RunningService } from './embedded-postgres.js';
import { startEmbeddedRedis } from './embedded-redis.js';

export const EMBEDDED_PG_PORT = 54329;
export const EMBEDDED_REDIS_PORT = 63799;

/** Fills in DATABASE_URL / REDIS_URL with embedded services when the environment gave none. */
export async function resolveServices(
  env: EnvConfig,
  log: (m: string) => void,
): Promise<{ config: AppConfig; stop: () => Promise<void> }> {
  const started: RunningService[] = [];
  const stop = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
  };
  try {
    let databaseUrl = env.databaseUrl;
    let redisUrl = env.redisUrl;
    if (!redisUrl) {
      const redis = await startEmbeddedRedis(env.dataDir, EMBEDDED_REDIS_PORT, log);
      started.push(redis);
      redisUrl = redis.url;
    }
    if (!databaseUrl) {
      const pg = await startEmbeddedPostgres(env.dataDir, EMBEDDED_PG_PORT, log);
      started.push(pg);
      databaseUrl = pg.url;
    }
    return { config: { ...env, databaseUrl, redisUrl }, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
