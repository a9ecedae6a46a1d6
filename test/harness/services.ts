import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import pg from 'pg';

export interface TestServices {
  /** Admin URL of a Postgres server the tests may create databases on. */
  databaseUrl: string;
  redisUrl: string;
  source: 'environment' | 'local' | 'testcontainers';
}

const LOCAL_PG = 'postgresql://postgres@127.0.0.1:5432/postgres';
const LOCAL_REDIS = 'redis://127.0.0.1:6379';

async function pgAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_500 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function redisAnswers(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

function dockerEngineAvailable(): boolean {
  if (!existsSync('/var/run/docker.sock') && !process.env.DOCKER_HOST) return false;
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Services for the test run, in order: TEST_DATABASE_URL / TEST_REDIS_URL; the local servers
 * when they answer; testcontainers where a Docker engine runs; else a clear failure.
 */
export async function resolveTestServices(): Promise<{ services: TestServices; stop: () => Promise<void> }> {
  const envPg = process.env.TEST_DATABASE_URL;
  const envRedis = process.env.TEST_REDIS_URL;
  const pgUrl = envPg ?? ((await pgAnswers(LOCAL_PG)) ? LOCAL_PG : undefined);
  const redisUrl = envRedis ?? ((await redisAnswers(LOCAL_REDIS)) ? LOCAL_REDIS : undefined);
  if (pgUrl && redisUrl) {
    return {
      services: { databaseUrl: pgUrl, redisUrl, source: envPg || envRedis ? 'environment' : 'local' },
      stop: async () => undefined,
    };
  }
  if (dockerEngineAvailable()) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const { RedisContainer } = await import('@testcontainers/redis');
    const pgC = pgUrl ? undefined : await new PostgreSqlContainer('postgres:17-alpine').withUsername('postgres').start();
    const redisC = redisUrl ? undefined : await new RedisContainer('redis:7-alpine').start();
    return {
      services: {
        databaseUrl: pgUrl ?? pgC!.getConnectionUri().replace(/\/[^/]*$/, '/postgres'),
        redisUrl: redisUrl ?? redisC!.getConnectionUrl(),
        source: 'testcontainers',
      },
      stop: async () => {
        await pgC?.stop();
        await redisC?.stop();
      },
    };
  }
  throw new Error(
    'Tests need PostgreSQL and Redis. Provide one of:\n' +
      '  1. TEST_DATABASE_URL=postgresql://... and TEST_REDIS_URL=redis://...\n' +
      `  2. local servers answering at ${LOCAL_PG} and ${LOCAL_REDIS}\n` +
      '  3. a running Docker engine (testcontainers starts postgres:17 and redis:7)\n' +
      `  missing now: ${[!pgUrl && 'PostgreSQL', !redisUrl && 'Redis'].filter(Boolean).join(' and ')}`,
  );
}
