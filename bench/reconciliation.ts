// npm run bench:reconciliation — a full reconciliation run (every check: ledger sum, balance drift,
// position drift, delivered tokens, escrow, usage vs scheduler, audit chain, bank statement) over
// 1,000,000 transfers and 1,000,000 positions (500,000 trades), started through the API as clearing
// staff start it (POST /v1/reconciliation/runs, which runs it and answers with the finished run),
// against bare scans of the same two tables (count + sum over transfers and over positions) on
// the same server in the same run. The database is seeded in bulk with SQL, consistent, so a
// correct run finds no breaks. Knobs: BENCH_TRANSFERS, BENCH_SERIES × BENCH_MEMBERS positions, BENCH_REPS.
import { type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import {
  freePort,
  machine,
  median,
  printTable,
  progress,
  rowStart,
  rssPeak,
  scratchDatabase,
  startServer,
  writeResults,
  type Figure,
} from './lib.js';

const TRANSFERS = Number(process.env.BENCH_TRANSFERS ?? 1_000_000);
const SERIES = Number(process.env.BENCH_SERIES ?? 1_000);
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 1_000); // every member holds a position in every series
const REPS = Number(process.env.BENCH_REPS ?? 3);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DAY = '2026-11-30';

interface RunView {
  id: string;
  status: string;
  openBreaks: number;
  breaksOpened: number;
  checks: { name: string; rowsExamined: number; ms: number; differences: number }[];
}

async function seed(client: pg.Client): Promise<void> {
  await client.query(`INSERT INTO products (id, code, "modelClass", "contractSizeTokens", "tickFen", "settlementType", "initialMarginBp", "maintenanceMarginBp", "feePerContractFen", "penaltyBp", "maxTtftMs", "minTokensPerSecond", regions, "inputTokenWeightBp")
    VALUES (gen_random_uuid(), 'BR', 'llm-70b-instruct', 10000000, 1, 'CASH', 1000, 500, 0, 0, 1000, 1, '{cn-east-1}', 0)`);
  await client.query(`INSERT INTO series (id, code, "productId", status, "tradingStartAt", "lastTradingAt", "deliveryStart", "deliveryEnd", "referencePriceFen")
    SELECT gen_random_uuid(), 'BR-' || lpad(g::text, 5, '0'), p.id, 'TRADING', now() - interval '3 days', now() + interval '10 days', now() + interval '11 days', now() + interval '12 days', 400
    FROM products p, generate_series(1, ${SERIES}) g`);
  await client.query(
    `INSERT INTO members (id, name, kind, "updatedAt") SELECT gen_random_uuid(), 'rm-' || lpad(g::text, 6, '0'), 'TRADER', now() FROM generate_series(1, ${MEMBERS}) g`,
  );
  await client.query(`INSERT INTO ledger_accounts (id, code, "memberId", type, "mustNotGoNegative")
    SELECT gen_random_uuid(), 'member:' || m.id || ':' || lower(t), m.id, t::"AccountType", true FROM members m CROSS JOIN unnest(ARRAY['CASH','MARGIN','ESCROW','PENDING']) t`);
  await client.query(`CREATE TEMP TABLE rm AS SELECT id, row_number() OVER (ORDER BY name) - 1 AS i FROM members`);
  await client.query(
    `CREATE TEMP TABLE rc AS SELECT a.id, m.i FROM ledger_accounts a JOIN rm m ON m.id = a."memberId" WHERE a.type = 'CASH'`,
  );
  await client.query('CREATE UNIQUE INDEX ON rc (i)');
  // Positions: pairs of members trade once in every series (buyer long, seller short).
  await client.query(
    `INSERT INTO trades (id, "seriesId", "priceFen", quantity, "buyerId", "sellerId", "businessDate")
     SELECT gen_random_uuid(), s.id, 395 + (a.i % 10), 1 + (a.i % 5), a.id, b.id, $1::date
     FROM series s JOIN rm a ON a.i % 2 = 0 JOIN rm b ON b.i = a.i + 1`,
    [DAY],
  );
  await client.query(`INSERT INTO positions ("memberId", "seriesId", "longQty", "shortQty", "updatedAt")
    SELECT "buyerId", "seriesId", quantity, 0, now() FROM trades UNION ALL SELECT "sellerId", "seriesId", 0, quantity, now() FROM trades`);
  // Transfers: one deposit per member from the bank, then member-to-member cash moves up to TRANSFERS in all.
  await client.query(
    `INSERT INTO transfers (id, "idempotencyKey", "debitAccountId", "creditAccountId", "amountFen", kind, "businessDate")
     SELECT gen_random_uuid(), 'bench.recon.deposit.' || rc.i, b.id, rc.id, 1000000000, 'DEPOSIT', $1::date
     FROM rc, ledger_accounts b WHERE b.code = 'bank:settlement'`,
    [DAY],
  );
  await client.query(
    `INSERT INTO transfers (id, "idempotencyKey", "debitAccountId", "creditAccountId", "amountFen", kind, "businessDate")
     SELECT gen_random_uuid(), 'bench.recon.move.' || g, d.id, c.id, 1 + g % 100, 'ADJUSTMENT', $1::date
     FROM generate_series(1, ${Math.max(0, TRANSFERS - MEMBERS)}) g
     JOIN rc d ON d.i = (g::bigint * 7919) % ${MEMBERS}
     JOIN rc c ON c.i = (g::bigint * 7919 + 1 + g % ${Math.max(1, MEMBERS - 1)}) % ${MEMBERS}`,
    [DAY],
  );
  await client.query(`UPDATE ledger_accounts a SET "balanceFen" = x.total FROM (
    SELECT id, sum(d) AS total FROM (SELECT "creditAccountId" AS id, "amountFen" AS d FROM transfers UNION ALL SELECT "debitAccountId", -"amountFen" FROM transfers) legs GROUP BY id) x
    WHERE a.id = x.id`);
  await client.query('VACUUM ANALYZE');
}

async function main(): Promise<void> {
  const db = await scratchDatabase(true);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  let server: ChildProcess | undefined;
  try {
    progress(`seeding ${TRANSFERS} transfers and ${SERIES} series × ${MEMBERS} members = ${SERIES * MEMBERS} positions`);
    const t0 = performance.now();
    await seed(client);
    const { rows: sizes } = await client.query<{ transfers: string; positions: string; trades: string }>(
      `SELECT (SELECT count(*) FROM transfers) AS transfers, (SELECT count(*) FROM positions) AS positions, (SELECT count(*) FROM trades) AS trades`,
    );
    const [transfers, positions, trades] = [Number(sizes[0].transfers), Number(sizes[0].positions), Number(sizes[0].trades)];
    progress(
      `seeded ${transfers} transfers, ${positions} positions, ${trades} trades in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    const key = `tck_bench_${randomBytes(20).toString('hex')}`;
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const running = await startServer(
      ['dist/main.js'],
      {
        DATABASE_URL: db.url,
        REDIS_URL,
        PORT: String(port),
        HOST: '127.0.0.1',
        BOOTSTRAP_CLEARING_KEY: key,
        LOG_LEVEL: 'error',
        QUEUE_PREFIX: `{brec${randomBytes(3).toString('hex')}}`,
      },
      `${base}/health/ready`,
    );
    server = running;

    const runsMs: number[] = [];
    const scansMs: number[] = [];
    const tradeScansMs: number[] = [];
    const peaks: number[] = [];
    const views: RunView[] = [];
    const started = await rowStart();
    for (let rep = 1; rep <= REPS; rep++) {
      const s0 = performance.now();
      await client.query(`SELECT count(*), sum("amountFen") FROM transfers`);
      await client.query(`SELECT count(*), sum("longQty"), sum("shortQty") FROM positions`);
      scansMs.push(performance.now() - s0);
      // Not in the reference (the run reads it too): printed so the ratio can be read either way.
      const s1 = performance.now();
      await client.query(`SELECT count(*), sum(quantity) FROM trades`);
      tradeScansMs.push(performance.now() - s1);
      progress(
        `rep ${rep}/${REPS}: bare scans ${scansMs.at(-1)!.toFixed(0)} ms (trades ${tradeScansMs.at(-1)!.toFixed(0)} ms); reconciliation run`,
      );
      const rss = rssPeak(running.pid!);
      const r0 = performance.now();
      const res = await fetch(`${base}/v1/reconciliation/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: '{}',
      });
      const text = await res.text();
      runsMs.push(performance.now() - r0);
      peaks.push(await rss.stop());
      if (res.status >= 300) throw new Error(`reconciliation run: ${res.status} ${text}`);
      const view = JSON.parse(text) as RunView;
      if (view.status !== 'COMPLETED') throw new Error(`reconciliation run ${view.id} is ${view.status}`);
      views.push(view);
      progress(
        `rep ${rep}/${REPS}: ${(runsMs.at(-1)! / 1000).toFixed(2)} s, ${view.openBreaks} open breaks; ${view.checks.map((c) => `${c.name} ${c.ms} ms/${c.rowsExamined} rows`).join(', ')}; API RSS peak ${peaks.at(-1)!.toFixed(0)} MiB`,
      );
    }
    const runMs = median(runsMs);
    const scanMs = median(scansMs);
    const breaks = Math.max(...views.map((v) => v.openBreaks));
    const checked = new Set(views.flatMap((v) => v.checks.map((c) => c.name)));
    const reasons = [
      ...(runMs / scanMs > 5 ? [`${(runMs / scanMs).toFixed(2)}× > 5× bare scans`] : []),
      ...(breaks > 0 ? [`${breaks} breaks on consistent data`] : []),
      ...(transfers < 1_000_000 || positions < 1_000_000 ? ['below 1M transfers + 1M positions (smoke size)'] : []),
    ];
    const figures: Figure[] = [
      {
        scenario: `reconciliation, all ${checked.size} checks, ${transfers} transfers + ${positions} positions (${trades} trades)`,
        figure: 'ms (POST → finished run)',
        value: runMs,
        reference: 'bare count+sum scans of transfers and positions, ms',
        referenceValue: scanMs,
        ratio: runMs / scanMs,
        goal: '≤ 5× bare scans (1M transfers + 1M positions)',
        met: reasons.length === 0,
        ...(reasons.length ? { failReason: reasons.join('; ') } : {}),
        ...started,
        peakRssMiB: Math.max(...peaks),
        rssOf: 'API+worker process',
      },
    ];
    printTable(figures);
    const perCheck = [...checked].map((name) => {
      const ms = median(views.map((v) => v.checks.find((c) => c.name === name)?.ms ?? 0));
      return `${name} ${ms} ms`;
    });
    await writeResults('reconciliation', {
      machine: await machine(db.url),
      figures,
      runs: views.map((v, i) => ({ id: v.id, ms: runsMs[i], scanMs: scansMs[i], openBreaks: v.openBreaks, checks: v.checks })),
      notes: [
        `${REPS} interleaved repetitions, medians; the run started by POST /v1/reconciliation/runs on the API+worker (dist/main.js) and timed by the bench from the request to the answer (the finished run)`,
        `seeded in bulk with SQL: ${transfers} transfers (${MEMBERS} deposits, the rest member-to-member), ${positions} positions from ${trades} trades, balances recomputed; ${breaks} open breaks found`,
        `checks (medians, server-side): ${perCheck.join(', ')}`,
        `the run also reads trades: a bare scan of trades took ${median(tradeScansMs).toFixed(0)} ms (median), not included in the reference`,
      ],
    });
  } finally {
    server?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1_500));
    await client.end();
    await db.drop();
  }
}

await main();
