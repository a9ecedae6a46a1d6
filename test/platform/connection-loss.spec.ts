import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { inOrder } from '../../src/platform/prisma/sql-tx.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

/**
 * Postgres drops the service's connections (a restart, pg_terminate_backend, a failover) while
 * transactions are running on them. Each must fail, none may hang, the process must not die (a
 * checked-out connection's 'error' event nobody listens to is fatal: vitest reports it as an
 * unhandled error, as a real process would crash on it), and the pool serves again at once.
 */
describe('connections terminated by the server', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t?.close());

  it('a pipelined transaction whose backend is terminated fails (never hangs), and the pool serves again', async () => {
    const admin = new pg.Client({ connectionString: t.config.databaseUrl });
    await admin.connect();
    const running = Array.from({ length: 6 }, (_, i) =>
      t.prisma
        .sqlTransaction(async (tx, commit) => {
          await inOrder([tx.$queryRaw`SELECT pg_sleep(1)`, tx.$queryRaw`SELECT ${i}::int AS i`, commit()]);
        })
        .then(
          () => 'ok',
          (e: Error) => `failed: ${e.message}`,
        ),
    );
    const single = Array.from({ length: 6 }, () =>
      t.prisma.sql.$queryRaw`SELECT pg_sleep(1)`.then(
        () => 'ok',
        (e: Error) => `failed: ${e.message}`,
      ),
    );
    await new Promise((r) => setTimeout(r, 300));
    const { rows: dropped } = await admin.query<{ pid: number }>(
      `SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    // pg_terminate_backend only signals: an idle pooled connection learns it was dropped when its
    // backend has exited and the FATAL message has been read. Wait for the server to finish, then
    // one turn of the event loop, before asking the pool to serve at once.
    for (let i = 0; i < 100; i++) {
      const { rows } = await admin.query(`SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1::int[])`, [dropped.map((d) => d.pid)]);
      if (rows.length === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 20));
    await admin.end();
    const outcomes = await Promise.race([
      Promise.all([...running, ...single]),
      new Promise<string>((r) => setTimeout(() => r('HUNG'), 10_000)),
    ]);
    expect(outcomes).not.toBe('HUNG');
    expect((outcomes as string[]).every((o) => o.startsWith('failed: '))).toBe(true);
    expect(await t.prisma.sql.$queryRaw`SELECT 1 AS one`).toEqual([{ one: 1 }]);
    expect(await t.prisma.sqlTransaction(async (tx) => tx.$queryRaw`SELECT 2 AS two`)).toEqual([{ two: 2 }]);
  });
});
