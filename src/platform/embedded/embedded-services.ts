import type { AppConfig, EnvConfig } from '../config/config.js';
import { startEmbeddedPostgres, type RunningService } from './embedded-postgres.js';
import { startEmbeddedRedis } from './embedded-redis.js';

/** Fills in DATABASE_URL / REDIS_URL with embedded services when the environment gave none. */
export async function resolveServices(env: EnvConfig, log: (m: string) => void): Promise<{ config: AppConfig; stop: () => Promise<void> }> {
  const started: RunningService[] = [];
  const stop = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
  };
  try {
    let databaseUrl = env.databaseUrl;
    let redisUrl = env.redisUrl;
    if (!redisUrl) {
      const redis = await startEmbeddedRedis(env.dataDir, env.embedded.redisPort, log);
      started.push(redis);
      redisUrl = redis.url;
    }
    if (!databaseUrl) {
      const pg = await startEmbeddedPostgres(env.dataDir, env.embedded.pgPort, log);
      started.push(pg);
      databaseUrl = pg.url;
    }
    return { config: { ...env, databaseUrl, redisUrl }, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
