import { spawn, execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import type { RunningService } from './embedded-postgres.js';

export class RedisNotFoundError extends Error {
  constructor() {
    super(
      'No REDIS_URL is set and no redis-server was found on PATH. Get Redis in one of three ways:\n' +
        '  1. install it:           sudo apt-get install redis-server   (or brew install redis)\n' +
        '  2. point at one:         REDIS_URL=redis://host:6379 npm start\n' +
        '  3. run the full stack:   docker compose up',
    );
    this.name = 'RedisNotFoundError';
  }
}

function findRedisServer(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server']).toString().trim();
  } catch {
    throw new RedisNotFoundError();
  }
}

/** A private redis-server: loopback only, AOF on, noeviction (BullMQ must never lose a key). */
export async function startEmbeddedRedis(dataDir: string, port: number, log: (m: string) => void): Promise<RunningService> {
  const bin = findRedisServer();
  const dir = resolve(dataDir, 'redis');
  await mkdir(dir, { recursive: true });
  const child = spawn(
    bin,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--maxmemory-policy',
      'noeviction',
      '--save',
      '',
      '--protected-mode',
      'yes',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.on('data', (d: Buffer) => log(`embedded redis: ${d.toString().trim()}`));
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch {
      probe.disconnect();
      if (Date.now() > deadline) throw new Error('redis-server did not start within 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  probe.disconnect();
  return {
    url,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
