import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, RedisProcess } from '../harness/redis-process.js';
import { assertBuilt, childEnv, MAIN, processesMatching, spawnNode, waitForHttp } from '../harness/processes.js';
import { ApiClient } from '../harness/http.js';
import { testResources } from '../harness/test-app.js';

describe('the service as real processes', () => {
  beforeAll(() => assertBuilt());

  it('starts on embedded Postgres and a spawned redis-server, is ready within 60 s, and exits 0 on SIGTERM leaving nothing behind', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tc-embedded-'));
    const [port, pgPort, redisPort] = [await freePort(), await freePort(), await freePort()];
    const proc = spawnNode(
      [MAIN],
      childEnv({ PORT: String(port), DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(pgPort), EMBEDDED_REDIS_PORT: String(redisPort) }),
    );
    try {
      const readyMs = await waitForHttp(`http://127.0.0.1:${port}/health/ready`, 200, 60_000, proc);
      expect(readyMs).toBeLessThan(60_000);
      expect(proc.output()).toContain('first run: created clearing key');
      const key = /\n\s+(tck_[A-Za-z0-9_-]{43})\n/.exec(proc.output())?.[1];
      expect(key).toBeDefined();
      const me = await new ApiClient(`http://127.0.0.1:${port}`, key).get('/v1/me');
      expect(me.body).toMatchObject({ role: 'clearing', memberKind: 'CLEARING' });
      expect(await processesMatching(`${dataDir}/pg`)).not.toEqual([]);
      expect(await processesMatching(`127.0.0.1:${redisPort}`)).not.toEqual([]);

      proc.child.kill('SIGTERM');
      const started = Date.now();
      expect(await proc.exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(await processesMatching(`${dataDir}/pg`)).toEqual([]);
      expect(await processesMatching(`127.0.0.1:${redisPort}`)).toEqual([]);
    } finally {
      proc.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);

  it('refuses to start on a bad PORT, naming the variable', async () => {
    const proc = spawnNode([MAIN], childEnv({ PORT: 'eighty' }));
    expect(await proc.exited).toBe(78);
    expect(proc.output()).toMatch(/PORT: must be a whole number/);
  });

  it('the worker refuses an evicting Redis (clear message, exit 78) and warns when Redis runs without AOF', async () => {
    const res = await testResources();
    const lru = await RedisProcess.start(['--maxmemory-policy', 'allkeys-lru']);
    const noAof = await RedisProcess.start(['--appendonly', 'no']);
    try {
      const env = (redisUrl: string) =>
        childEnv({ DATABASE_URL: res.databaseUrl, REDIS_URL: redisUrl, PORT: '0', PROCESS_ROLE: 'worker', QUEUE_PREFIX: res.queuePrefix });
      const refused = spawnNode([MAIN], env(lru.url));
      expect(await refused.exited).toBe(78);
      expect(refused.output()).toMatch(/maxmemory-policy=allkeys-lru; TokenClear's queues need noeviction/);

      const warned = spawnNode([MAIN], { ...env(noAof.url), LOG_LEVEL: 'warn' });
      const deadline = Date.now() + 30_000;
      while (!warned.output().includes('without AOF') && Date.now() < deadline && warned.child.exitCode === null)
        await new Promise((r) => setTimeout(r, 100));
      expect(warned.output()).toContain('runs without AOF');
      warned.child.kill('SIGTERM');
      expect(await warned.exited).toBe(0);
    } finally {
      await lru.kill();
      await noAof.kill();
      await res.drop();
    }
  }, 60_000);

  it('without REDIS_URL and without redis-server on PATH, names the three ways to get Redis', async () => {
    const proc = spawnNode([MAIN], childEnv({ PATH: '/nonexistent', DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/postgres' }));
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toMatch(/install it[\s\S]*REDIS_URL=[\s\S]*docker compose up/);
  });

  describe('split roles', () => {
    let res: Awaited<ReturnType<typeof testResources>>;
    beforeAll(async () => {
      res = await testResources();
    });
    afterAll(() => res.drop());

    it('runs two API copies and a worker on one database; the worker relays what an API wrote', async () => {
      const key = 'tck_split_roles_key_0123456789abcdefghijkl';
      const base = { DATABASE_URL: res.databaseUrl, REDIS_URL: res.redisUrl, QUEUE_PREFIX: res.queuePrefix, BOOTSTRAP_CLEARING_KEY: key };
      const [p1, p2] = [await freePort(), await freePort()];
      const api1 = spawnNode([MAIN], childEnv({ ...base, PORT: String(p1), PROCESS_ROLE: 'api' }));
      const api2 = spawnNode([MAIN], childEnv({ ...base, PORT: String(p2), PROCESS_ROLE: 'api' }));
      const worker = spawnNode([MAIN], childEnv({ ...base, PROCESS_ROLE: 'worker', OUTBOX_POLL_MS: '50' }));
      try {
        await waitForHttp(`http://127.0.0.1:${p1}/health/ready`, 200, 30_000, api1);
        await waitForHttp(`http://127.0.0.1:${p2}/health/ready`, 200, 30_000, api2);
        const created = await new ApiClient(`http://127.0.0.1:${p1}`, key).post<{ id: string }>('/v1/members', {
          name: 'Split Co',
          kind: 'BUYER',
        });
        expect(created.status).toBe(201);
        const seen = await new ApiClient(`http://127.0.0.1:${p2}`, key).get(`/v1/members/${created.body.id}`);
        expect(seen.status).toBe(200);

        // An outbox row committed by anyone is relayed by the worker copy.
        const pg = (await import('pg')).default;
        const client = new pg.Client({ connectionString: res.databaseUrl });
        await client.connect();
        await client.query(
          `INSERT INTO outbox_messages (id, queue, "jobName", "jobId", payload) VALUES (gen_random_uuid(), 'maintenance', 'maintenance.purge-idempotency', 'split-roles-1', '{"retentionHours":48}')`,
        );
        const deadline = Date.now() + 15_000;
        let sent = false;
        while (!sent && Date.now() < deadline) {
          const row = await client.query(`SELECT "sentAt" FROM outbox_messages WHERE "jobId" = 'split-roles-1'`);
          sent = row.rows[0]?.sentAt !== null;
          if (!sent) await new Promise((r) => setTimeout(r, 100));
        }
        await client.end();
        expect(sent).toBe(true);
        // The relay starts before the worker finishes booting (it checks Redis first): wait for its line.
        for (let i = 0; i < 100 && !worker.output().includes('worker role running'); i++) await new Promise((r) => setTimeout(r, 100));
        expect(worker.output()).toContain('worker role running');

        for (const p of [api1, api2, worker]) p.child.kill('SIGTERM');
        expect(await Promise.all([api1.exited, api2.exited, worker.exited])).toEqual([0, 0, 0]);
      } finally {
        for (const p of [api1, api2, worker]) p.child.kill('SIGKILL');
      }
    }, 60_000);
  });
});
