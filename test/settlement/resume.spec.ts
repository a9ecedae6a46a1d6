import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { addDays, businessDateOf } from '../../src/platform/time/business-date.js';
import { cloneDatabase } from '../harness/databases.js';
import { ApiClient } from '../harness/http.js';
import { assertBuilt, childEnv, MAIN, spawnNode, waitForHttp, type Spawned } from '../harness/processes.js';
import { freePort } from '../harness/redis-process.js';
import { testResources } from '../harness/test-app.js';

const MEMBERS = 600;
const KEY = 'tck_resume_test_key_0123456789abcdefghij';

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** A market with MEMBERS traders who traded yesterday, and a fixed settlement price for yesterday. */
async function seed(url: string, day: string): Promise<void> {
  await query(
    url,
    `INSERT INTO products (id, code, "modelClass", "contractSizeTokens", "tickFen", "settlementType", "initialMarginBp", "maintenanceMarginBp", "feePerContractFen", "penaltyBp", "maxTtftMs", "minTokensPerSecond", regions, "inputTokenWeightBp")
    VALUES (gen_random_uuid(), 'RES', 'llm-70b-instruct', 10000000, 1, 'CASH', 1000, 500, 0, 0, 1000, 1, '{cn-east-1}', 0)`,
  );
  await query(
    url,
    `INSERT INTO series (id, code, "productId", status, "tradingStartAt", "lastTradingAt", "deliveryStart", "deliveryEnd", "referencePriceFen")
    SELECT gen_random_uuid(), 'RES-1', id, 'TRADING', now() - interval '3 days', now() + interval '10 days', now() + interval '11 days', now() + interval '12 days', 400 FROM products WHERE code = 'RES'`,
  );
  await query(
    url,
    `INSERT INTO members (id, name, kind, "updatedAt") SELECT gen_random_uuid(), 'res-' || lpad(g::text, 4, '0'), 'TRADER', now() FROM generate_series(1, ${MEMBERS}) g`,
  );
  await query(
    url,
    `INSERT INTO ledger_accounts (id, code, "memberId", type, "mustNotGoNegative")
    SELECT gen_random_uuid(), 'member:' || m.id || ':' || lower(t), m.id, t::"AccountType", true FROM members m CROSS JOIN unnest(ARRAY['CASH','MARGIN','ESCROW','PENDING']) t WHERE m.kind = 'TRADER'`,
  );
  await query(
    url,
    `WITH m AS (SELECT id, row_number() OVER (ORDER BY name) - 1 AS i FROM members WHERE kind = 'TRADER')
    INSERT INTO trades (id, "seriesId", "priceFen", quantity, "buyerId", "sellerId", "businessDate")
    SELECT gen_random_uuid(), (SELECT id FROM series WHERE code = 'RES-1'), 395 + (a.i % 10), 1 + (a.i % 5), a.id, b.id, $1::date
    FROM m a JOIN m b ON b.i = (a.i + 1) % ${MEMBERS}`,
    [day],
  );
  await query(
    url,
    `INSERT INTO positions ("memberId", "seriesId", "longQty", "shortQty", "updatedAt")
    SELECT m, s, sum(l)::int, sum(sh)::int, now() FROM (
      SELECT "buyerId" m, "seriesId" s, quantity l, 0 sh FROM trades UNION ALL SELECT "sellerId", "seriesId", 0, quantity FROM trades) x GROUP BY m, s`,
  );
  await query(
    url,
    `INSERT INTO settlement_prices ("seriesId", "businessDate", "priceFen", method, details) SELECT id, $1::date, 410, 'FIXED', '{}' FROM series WHERE code = 'RES-1'`,
    [day],
  );
}

describe('a settlement run killed mid-way resumes to the same result as a clean run', () => {
  let resources: Awaited<ReturnType<typeof testResources>>;
  let clone: { url: string; drop: () => Promise<void> };
  const procs: Spawned[] = [];
  const day = addDays(businessDateOf(new Date(), '15:00'), -1);

  // One queue prefix per database: the restarted process must see the job the killed one held.
  const prefixes = new Map<string, string>();
  const start = async (databaseUrl: string) => {
    const port = await freePort();
    if (!prefixes.has(databaseUrl)) prefixes.set(databaseUrl, `{resume${Math.random().toString(36).slice(2, 8)}}`);
    const p = spawnNode(
      [MAIN],
      childEnv({
        DATABASE_URL: databaseUrl,
        REDIS_URL: resources.redisUrl,
        QUEUE_PREFIX: prefixes.get(databaseUrl)!,
        PORT: String(port),
        BOOTSTRAP_CLEARING_KEY: KEY,
        SETTLEMENT_CHUNK: '3',
        WORKER_LOCK_MS: '1000',
      }),
    );
    procs.push(p);
    await waitForHttp(`http://127.0.0.1:${port}/health/ready`, 200, 30_000, p);
    return { p, api: new ApiClient(`http://127.0.0.1:${port}`, KEY) };
  };
  const runRow = async (url: string) =>
    (
      await query<{ id: string; status: string; processedItems: number; checksum: string | null; attempts: number }>(
        url,
        'SELECT id, status, "processedItems", checksum, attempts FROM settlement_runs',
      )
    )[0];
  const waitFor = async (url: string, done: (r: Awaited<ReturnType<typeof runRow>>) => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await runRow(url);
      if (r && done(r)) return r;
      if (Date.now() > deadline) throw new Error(`run not there yet: ${JSON.stringify(r)}`);
      await new Promise((res) => setTimeout(res, 10));
    }
  };

  beforeAll(async () => {
    assertBuilt();
    resources = await testResources();
    await seed(resources.databaseUrl, day);
    clone = await cloneDatabase(inject('adminDatabaseUrl'), resources.databaseUrl);
  });
  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await clone?.drop();
    await resources?.drop();
  });

  it('kill -9 during the run, restart, same transfers and checksum as an uninterrupted run', async () => {
    // The interrupted run.
    const first = await start(resources.databaseUrl);
    const started = await first.api.post<{ id: string }>('/v1/settlement/runs', { type: 'DAILY', series: 'RES-1', businessDate: day });
    expect(started.status, started.text).toBe(201);
    const midway = await waitFor(resources.databaseUrl, (r) => r.processedItems >= MEMBERS / 3, 60_000);
    first.p.child.kill('SIGKILL');
    await first.p.exited;
    const killed = await runRow(resources.databaseUrl);
    expect(killed.status).toBe('RUNNING');
    expect(killed.processedItems).toBeLessThan(2 * MEMBERS);
    expect(midway.processedItems).toBeGreaterThan(0);

    const second = await start(resources.databaseUrl);
    const resumed = await waitFor(resources.databaseUrl, (r) => r.status === 'COMPLETED', 60_000);
    expect(resumed.attempts).toBeGreaterThanOrEqual(2);

    // The clean run, on an identical copy of the database taken before anything ran.
    const clean = await start(clone.url);
    await clean.api.post('/v1/settlement/runs', { type: 'DAILY', series: 'RES-1', businessDate: day });
    const uninterrupted = await waitFor(clone.url, (r) => r.status === 'COMPLETED', 60_000);

    expect(resumed.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(resumed.checksum).toBe(uninterrupted.checksum);
    const sql = 'SELECT "idempotencyKey", "amountFen"::text FROM transfers WHERE "settlementRunId" IS NOT NULL ORDER BY 1';
    expect(await query(resources.databaseUrl, sql)).toEqual(await query(clone.url, sql));
    // No transfer twice, none missing: one VM transfer per member whose VM is not zero.
    const [{ dupes }] = await query<{ dupes: string }>(
      resources.databaseUrl,
      'SELECT count(*) - count(DISTINCT "idempotencyKey") AS dupes FROM transfers',
    );
    expect(dupes).toBe('0');
    const [{ total }] = await query<{ total: string }>(
      resources.databaseUrl,
      'SELECT sum("balanceFen")::text AS total FROM ledger_accounts',
    );
    expect(total).toBe('0');
    for (const p of [second, clean]) p.p.child.kill('SIGTERM');
  }, 180_000);
});
