// npm run test:faults — load on two API+worker processes sharing one Postgres and one Redis while
// faults are injected: kill -9 of a worker, SIGSTOP past the lock, Redis killed, Postgres
// connections terminated, a Postgres restart, kill -9 of an agent, duplicate and out-of-order node
// completions. Then SQL checks that nothing acknowledged was lost or applied twice.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type RunningService } from '../../src/platform/embedded/embedded-postgres.js';
import { applyMigrations } from '../../src/platform/prisma/migrator.js';
import { ApiClient } from '../harness/http.js';
import { AGENT } from '../harness/delivery-fixtures.js';
import { assertBuilt, childEnv, MAIN, spawnNode, waitForHttp, type Spawned } from '../harness/processes.js';
import { freePort, RedisProcess } from '../harness/redis-process.js';
import { LoadGenerator, prng, type Actor } from './load.js';

const SECONDS = Number(process.env.FAULT_SECONDS ?? 300);
const SEED = Number(process.env.FAULT_SEED ?? 20261125);
const LOCK_MS = 3_000;
const log = (m: string) => process.stderr.write(`[faults ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`fault injection under load (${SECONDS} s, seed ${SEED})`, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tc-faults-'));
  const clearingKey = `tck_faults_${randomBytes(20).toString('hex')}`;
  const procs: { proc: Spawned; port: number }[] = [];
  const agents: Spawned[] = [];
  let pgService: RunningService | undefined;
  let redis: RedisProcess | undefined;
  let pgPort = 0;

  afterAll(async () => {
    for (const p of procs) p.proc.child.kill('SIGKILL');
    for (const a of agents) a.child.kill('SIGKILL');
    await redis?.kill();
    await pgService?.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'loses nothing acknowledged, applies nothing twice, and reconciles to zero breaks',
    async () => {
      assertBuilt();
      pgPort = await freePort();
      pgService = await startEmbeddedPostgres(dataDir, pgPort, log);
      await applyMigrations(pgService.url);
      redis = await RedisProcess.start();
      const env = (port: number) =>
        childEnv({
          DATABASE_URL: pgService!.url,
          REDIS_URL: redis!.url,
          PORT: String(port),
          HOST: '127.0.0.1',
          BOOTSTRAP_CLEARING_KEY: clearingKey,
          LOG_LEVEL: 'error',
          WORKER_LOCK_MS: String(LOCK_MS),
          DELIVERY_LEASE_MS: '3000',
          DELIVERY_STALE_MS: '3000',
          DELIVERY_REAP_MS: '300',
          HEARTBEAT_INTERVAL_MS: '1000',
          OUTBOX_POLL_MS: '100',
          TRADER_CUTOFF_HOURS: '0',
          QUEUE_PREFIX: '{faults}',
          SHUTDOWN_GRACE_MS: '2000',
        });
      const startProc = async (i: number) => {
        const port = procs[i]?.port ?? (await freePort());
        const proc = spawnNode([MAIN], env(port));
        procs[i] = { proc, port };
        await waitForHttp(`http://127.0.0.1:${port}/health/live`, 200, 60_000, proc);
      };
      await startProc(0);
      await startProc(1);
      const bases = procs.map((p) => `http://127.0.0.1:${p.port}`);
      const clearing = new ApiClient(bases[0], clearingKey);
      const ok = async <T>(p: Promise<{ status: number; body: T; text: string }>) => {
        const res = await p;
        if (res.status >= 300) throw new Error(res.text);
        return res.body;
      };

      log('market: 2 operators × 2 nodes (agents), 3 buyers, 4 traders; a CASH series to trade, a PHYSICAL series to deliver');
      const member = async (kind: Actor['kind']): Promise<Actor> => {
        const m = await ok(clearing.post<{ id: string }>('/v1/members', { name: `${kind}-${randomBytes(3).toString('hex')}`, kind }));
        const k = await ok(clearing.post<{ key: string }>(`/v1/members/${m.id}/api-keys`, { role: kind.toLowerCase() }));
        await ok(
          clearing.post(`/v1/members/${m.id}/deposits`, { amount: '100000.00', currency: 'CNY', reference: `INIT-${m.id.slice(0, 8)}` }),
        );
        // Withdrawals pay to a verified bank account: the member proposes one, clearing verifies it.
        const account = await ok(
          new ApiClient(bases[0], k.key).post<{ id: string }>(`/v1/members/${m.id}/bank-accounts`, {
            bankCode: '105100000017',
            accountNumber: `6222${m.id.replace(/-/g, '').slice(0, 15)}`.replace(/[a-f]/g, '0'),
            holderName: `${kind} ${m.id.slice(0, 8)}`,
          }),
        );
        await ok(clearing.post(`/v1/bank-accounts/${account.id}/approve`, {}));
        return { id: m.id, key: k.key, kind };
      };
      const ops = [await member('OPERATOR'), await member('OPERATOR')];
      const buyers = [await member('BUYER'), await member('BUYER'), await member('BUYER')];
      const traders = [await member('TRADER'), await member('TRADER'), await member('TRADER'), await member('TRADER')];
      const nodes: { id: string; nodeToken: string; op: Actor }[] = [];
      for (const op of ops) {
        const c = new ApiClient(bases[0], op.key);
        const dc = await ok(c.post<{ id: string }>('/v1/datacenters', { name: `dc-${op.id.slice(0, 6)}`, region: 'cn-east-1' }));
        for (let i = 0; i < 2; i++) {
          const n = await ok(
            c.post<{ id: string; nodeToken: string }>('/v1/nodes', {
              dataCenterId: dc.id,
              gpuModel: 'H800',
              gpuCount: 8,
              models: [{ modelClass: 'llm-70b-instruct', tokensPerSecond: 100_000 }],
            }),
          );
          await ok(new ApiClient(bases[0], n.nodeToken).post(`/v1/nodes/${n.id}/heartbeat`, {}));
          nodes.push({ ...n, op });
        }
      }
      for (const code of ['FC', 'FP']) {
        await ok(
          clearing.post('/v1/products', {
            code,
            modelClass: 'llm-70b-instruct',
            contractSizeTokens: 1_000_000,
            tickFen: 1,
            settlementType: code === 'FC' ? 'CASH' : 'PHYSICAL',
            initialMarginBp: 1000,
            maintenanceMarginBp: 750,
            feePerContractFen: 1,
            penaltyBp: 1000,
            maxTtftMs: 5000,
            minTokensPerSecond: 1,
            regions: ['cn-east-1'],
            inputTokenWeightBp: 2500,
          }),
        );
      }
      const now = Date.now();
      await ok(
        clearing.post('/v1/series', {
          productCode: 'FC',
          code: 'FC-1',
          lastTradingAt: new Date(now + 30 * 86_400_000).toISOString(),
          deliveryStart: new Date(now + 31 * 86_400_000).toISOString(),
          deliveryEnd: new Date(now + 32 * 86_400_000).toISOString(),
          referencePrice: '4.00',
        }),
      );
      const physLast = new Date(now + 8_000);
      await ok(
        clearing.post('/v1/series', {
          productCode: 'FP',
          code: 'FP-1',
          lastTradingAt: physLast.toISOString(),
          deliveryStart: physLast.toISOString(),
          deliveryEnd: new Date(now + 3_600_000).toISOString(),
          referencePrice: '4.00',
        }),
      );
      for (const [i, op] of ops.entries()) {
        await ok(
          new ApiClient(bases[0], op.key).post('/v1/orders', {
            series: 'FP-1',
            side: 'SELL',
            price: '4.00',
            quantity: 20,
            timeInForce: 'GTC',
          }),
        );
        await ok(
          new ApiClient(bases[0], buyers[i].key).post('/v1/orders', {
            series: 'FP-1',
            side: 'BUY',
            price: '4.00',
            quantity: 20,
            timeInForce: 'GTC',
          }),
        );
      }
      // The third buyer gets its tokens from both operators' leftovers: nothing — it calls off on none;
      // its job requests are refused (422), which the load generator counts as refused, not lost.
      const withAgent = nodes.slice(0, 3);
      const rogue = nodes[3]; // no agent: the suite itself plays this node, badly
      const startAgent = (n: (typeof nodes)[number]) =>
        spawnNode(
          [
            AGENT,
            '--api',
            bases[Math.floor(Math.random() * 2)],
            '--node',
            n.id,
            '--simulate',
            '--rate',
            '0',
            '--heartbeat-ms',
            '300',
            '--lease-wait',
            '1',
            '--concurrency',
            '8',
          ],
          childEnv({ TOKENCLEAR_NODE_TOKEN: n.nodeToken }),
        );
      for (const n of withAgent) agents.push(startAgent(n));
      log('waiting for the physical series to expire into obligations');
      const db = new pg.Client({ connectionString: pgService.url });
      await db.connect();
      const query = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> => {
        for (let i = 0; ; i++) {
          try {
            return (await db.query<T>(sql, params)).rows;
          } catch (err) {
            if (i > 20) throw err;
            await sleep(500);
          }
        }
      };
      for (let i = 0; ; i++) {
        if (Date.now() > physLast.getTime() + 500 && i % 10 === 0)
          await clearing.post('/v1/settlement/runs', { type: 'EXPIRY', series: 'FP-1' });
        const [{ n }] = await query<{ n: string }>(`SELECT count(*) AS n FROM delivery_obligations WHERE status = 'OPEN'`);
        if (Number(n) >= 2) break;
        if (i > 300) throw new Error('physical series never allocated');
        await sleep(200);
      }

      await db.end();
      const load = new LoadGenerator(
        bases,
        clearingKey,
        { traders, buyers: buyers.slice(0, 2) },
        { cash: 'FC-1', physical: 'FP-1' },
        prng(SEED),
      );
      const loading = load.run(6);
      const injected: Record<string, number> = {};
      const inject = (name: string) => (injected[name] = (injected[name] ?? 0) + 1);
      const deadline = Date.now() + SECONDS * 1000;
      const faults: (() => Promise<void>)[] = [
        async () => {
          log('fault: kill -9 of API+worker process 2, restarted 2 s later');
          procs[1].proc.child.kill('SIGKILL');
          await procs[1].proc.exited;
          inject('kill -9 worker');
          await sleep(2_000);
          await startProc(1);
        },
        async () => {
          log(`fault: SIGSTOP process 1 for ${LOCK_MS + 2_000} ms (past its job locks), then SIGCONT`);
          procs[0].proc.child.kill('SIGSTOP');
          inject('SIGSTOP past lock');
          await sleep(LOCK_MS + 2_000);
          procs[0].proc.child.kill('SIGCONT');
        },
        async () => {
          log('fault: Redis killed, restarted 2 s later');
          await redis!.kill();
          inject('Redis killed');
          await sleep(2_000);
          await redis!.up();
        },
        async () => {
          log('fault: every Postgres connection of the service terminated');
          const admin = new pg.Client({ connectionString: pgService!.url });
          await admin.connect();
          const { rowCount } = await admin.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
          );
          await admin.end();
          log(`terminated ${rowCount} connections`);
          inject('pg_terminate_backend');
        },
        async () => {
          log('fault: Postgres restarted (3 s down)');
          await pgService!.stop();
          inject('Postgres restart');
          await sleep(3_000);
          pgService = await startEmbeddedPostgres(dataDir, pgPort, log);
        },
        async () => {
          log('fault: kill -9 of an agent holding leases, restarted 3 s later');
          const i = Math.floor(Math.random() * agents.length);
          agents[i].child.kill('SIGKILL');
          inject('kill -9 agent');
          await sleep(3_000);
          agents[i] = startAgent(withAgent[i]);
        },
        async () => {
          log('fault: a node completes the same job twice at once, then fails it, then completes it with a stale token');
          // The node is ONLINE only while the suite plays it (heartbeats), so dispatch sends it work.
          const node = new ApiClient(bases[0], rogue.nodeToken);
          const beat = setInterval(() => void node.post(`/v1/nodes/${rogue.id}/heartbeat`, {}).catch(() => undefined), 300);
          let played = 0;
          try {
            await node.post(`/v1/nodes/${rogue.id}/heartbeat`, {});
            const until = Date.now() + 15_000;
            while (played < 3 && Date.now() < until) {
              const leased = await node.post<{ jobs: { id: string; leaseToken: string }[] }>(`/v1/nodes/${rogue.id}/lease`, {
                maxJobs: 3,
                waitSeconds: 2,
              });
              for (const j of leased.body?.jobs ?? []) {
                const body = {
                  leaseToken: j.leaseToken,
                  usage: { prompt_tokens: 3, completion_tokens: 20 },
                  ttftMs: 5,
                  durationMs: 50,
                  output: 'rogue',
                };
                await Promise.all([
                  node.post(`/v1/delivery/jobs/${j.id}/complete`, body),
                  new ApiClient(bases[1], rogue.nodeToken).post(`/v1/delivery/jobs/${j.id}/complete`, body),
                ]);
                await node.post(`/v1/delivery/jobs/${j.id}/fail`, { leaseToken: j.leaseToken, reason: 'late', retryable: true });
                await node.post(`/v1/delivery/jobs/${j.id}/complete`, { ...body, leaseToken: 'f'.repeat(32) });
                played++;
              }
            }
          } finally {
            clearInterval(beat);
          }
          log(`played ${played} jobs badly`);
          if (played > 0) inject('duplicate/out-of-order completions');
        },
      ];
      let f = 0;
      const pause = Math.min(8_000, (SECONDS * 1000) / (faults.length + 2));
      while (Date.now() < deadline) {
        await sleep(Math.min(pause, Math.max(0, deadline - Date.now())));
        if (Date.now() >= deadline) break;
        await faults[f++ % faults.length]().catch((err: Error) => log(`fault step error (continuing): ${err.message}`));
        log(`acknowledged ${load.acks.length}, requests ${load.requests}, retries ${load.retries}`);
      }
      load.stop();
      await loading;

      log('load stopped; waiting for delivery and outbox to drain');
      const check = new pg.Client({ connectionString: pgService.url });
      await check.connect();
      const q = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => (await check.query<T>(sql, params)).rows;
      for (let i = 0; i < 240; i++) {
        const [{ pending, unsent }] = await q<{ pending: string; unsent: string }>(
          `SELECT (SELECT count(*) FROM delivery_jobs WHERE status IN ('QUEUED','DISPATCHED','LEASED')) AS pending, (SELECT count(*) FROM outbox_messages WHERE "sentAt" IS NULL) AS unsent`,
        );
        if (Number(pending) === 0 && Number(unsent) === 0) break;
        if (i % 10 === 0) log(`draining: ${pending} jobs in flight, ${unsent} outbox rows unsent`);
        await sleep(500);
      }

      const violations: string[] = [];
      const invariant = (ok: boolean, what: string) => {
        if (!ok) violations.push(what);
      };
      invariant(
        Object.keys(injected).length === faults.length,
        `every kind of fault injected at least once (${Object.keys(injected).length}/${faults.length} in ${f} steps)`,
      );
      const acked = (kind: string) => load.acks.filter((a) => a.kind === kind);
      const orders = await q<{ clientOrderId: string; n: string }>(
        `SELECT "clientOrderId", count(*) AS n FROM orders WHERE "clientOrderId" = ANY($1) GROUP BY 1`,
        [acked('order').map((a) => a.key)],
      );
      invariant(
        orders.length === acked('order').length && orders.every((o) => o.n === '1'),
        `every acknowledged order exists exactly once (${orders.length}/${acked('order').length})`,
      );
      const deposits = await q<{ reference: string; n: string }>(
        `SELECT reference, count(*) AS n FROM transfers WHERE kind = 'DEPOSIT' AND reference = ANY($1) GROUP BY 1`,
        [acked('deposit').map((a) => a.key)],
      );
      invariant(
        deposits.length === acked('deposit').length && deposits.every((d) => d.n === '1'),
        `every acknowledged deposit posted exactly once (${deposits.length}/${acked('deposit').length})`,
      );
      const wds = await q<{ n: string }>(
        `SELECT count(*) AS n FROM withdrawals w JOIN transfers t ON t."withdrawalId" = w.id AND t.kind = 'WITHDRAWAL' WHERE w.id = ANY($1::uuid[]) AND w.status = 'APPROVED'`,
        [acked('withdrawal').map((a) => a.id)],
      );
      invariant(
        Number(wds[0].n) === acked('withdrawal').length,
        `every acknowledged withdrawal approved and paid exactly once (${wds[0].n}/${acked('withdrawal').length})`,
      );
      const jobs = await q<{ status: string; n: string }>(
        `SELECT status, count(*) AS n FROM delivery_jobs WHERE id = ANY($1::uuid[]) GROUP BY 1`,
        [acked('job').map((a) => a.id)],
      );
      const jobCount = jobs.reduce((s, r) => s + Number(r.n), 0);
      invariant(jobCount === acked('job').length, `every acknowledged delivery job exists (${jobCount}/${acked('job').length})`);
      invariant(
        jobs.every((r) => r.status === 'COMPLETED' || r.status === 'FAILED'),
        `every delivery job finished (${JSON.stringify(jobs)})`,
      );
      const [ledger] = await q<{ total: string }>(`SELECT COALESCE(sum("balanceFen"), 0) AS total FROM ledger_accounts`);
      invariant(ledger.total === '0', `ledger sums to zero (${ledger.total})`);
      const negative = await q(`SELECT code FROM ledger_accounts WHERE "mustNotGoNegative" AND type <> 'CASH' AND "balanceFen" < 0`);
      invariant(negative.length === 0, `no margin/escrow/pending account below zero (${negative.length})`);
      const twice = await q(
        `SELECT "jobId" FROM transfers WHERE kind = 'ESCROW_RELEASE' AND "jobId" IS NOT NULL GROUP BY 1 HAVING count(*) > 1`,
      );
      invariant(twice.length === 0, 'each job metered (and paid) at most once');
      const [meter] = await q<{ n: string }>(
        `SELECT count(*) AS n FROM delivery_jobs j LEFT JOIN usage_records u ON u."jobId" = j.id
          WHERE j."verifiesJobId" IS NULL AND (j.status = 'COMPLETED') <> (u.id IS NOT NULL)`,
      );
      invariant(meter.n === '0', `a usage record exactly for each completed job (${meter.n} off)`);
      // Verification re-runs are never metered against an obligation (SPEC §6.1): no usage record, ever.
      const [reruns] = await q<{ n: string }>(
        `SELECT count(*) AS n FROM delivery_jobs j JOIN usage_records u ON u."jobId" = j.id WHERE j."verifiesJobId" IS NOT NULL`,
      );
      invariant(reruns.n === '0', `no usage record for a verification re-run (${reruns.n})`);
      const [unsent] = await q<{ n: string }>(`SELECT count(*) AS n FROM outbox_messages WHERE "sentAt" IS NULL`);
      invariant(unsent.n === '0', `every outbox row delivered (${unsent.n} left)`);
      const recon = await clearing.post<{ status: string; openBreaks: number; checks: { name: string; differences: number }[] }>(
        '/v1/reconciliation/runs',
        {},
      );
      const openBreaks = await q<{ type: string; key: string; difference: string }>(
        `SELECT type::text AS type, key, difference FROM breaks WHERE status = 'OPEN' ORDER BY type, key LIMIT 20`,
      );
      invariant(
        recon.status === 201 && recon.body.openBreaks === 0,
        `reconciliation finds zero breaks (${recon.status}: ${recon.body.openBreaks} open; checks with differences ${JSON.stringify(recon.body.checks?.filter((c) => c.differences > 0))}; open ${JSON.stringify(openBreaks)})`,
      );
      await check.end();

      const summary = {
        seconds: SECONDS,
        seed: SEED,
        requests: load.requests,
        acknowledged: load.acks.length,
        byKind: Object.fromEntries(['order', 'deposit', 'withdrawal', 'job'].map((k) => [k, acked(k).length])),
        retries: load.retries,
        refused: load.refused,
        gaveUp: load.gaveUp,
        faultsInjected: injected,
        invariantsChecked: 12,
        violations,
      };
      process.stdout.write(`\nFAULT SUITE SUMMARY ${JSON.stringify(summary, null, 2)}\n`);
      expect(violations).toEqual([]);
    },
    (SECONDS + 600) * 1000,
  );
});
