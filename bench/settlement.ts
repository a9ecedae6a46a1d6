// npm run bench:settlement — DAILY settlement of 1,000 series holding 1,000,000 open positions
// (500,000 trades), run by a real API + worker process, against a plain SELECT sum(...) scan
// over the same positions, measured on the same server in the same run.
import { type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { addDays, businessDateOf } from '../src/platform/time/business-date.js';
import { freePort, machine, median, printTable, progress, scratchDatabase, startServer, writeResults, type Figure } from './lib.js';

/** Resident memory of a process, from /proc (no ps process spawned on every poll). */
async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

const SERIES = Number(process.env.BENCH_SERIES ?? 1_000);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 1_000); // every member holds a position in every series
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function main(): Promise<void> {
  const db = await scratchDatabase(true);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  // One business date per repetition (each is a full DAILY run over every position); trades on the first.
  const days = Array.from({ length: REPS }, (_, i) => addDays(businessDateOf(new Date(), '15:00'), i - REPS));
  const day = days[0];
  let server: ChildProcess | undefined;
  try {
    progress(`generating ${SERIES} series × ${MEMBERS} members = ${SERIES * MEMBERS} positions (${(SERIES * MEMBERS) / 2} trades)`);
    const t0 = performance.now();
    await client.query(`INSERT INTO products (id, code, "modelClass", "contractSizeTokens", "tickFen", "settlementType", "initialMarginBp", "maintenanceMarginBp", "feePerContractFen", "penaltyBp", "maxTtftMs", "minTokensPerSecond", regions, "inputTokenWeightBp")
      VALUES (gen_random_uuid(), 'BS', 'llm-70b-instruct', 10000000, 1, 'CASH', 1000, 500, 0, 0, 1000, 1, '{cn-east-1}', 0)`);
    await client.query(`INSERT INTO series (id, code, "productId", status, "tradingStartAt", "lastTradingAt", "deliveryStart", "deliveryEnd", "referencePriceFen")
      SELECT gen_random_uuid(), 'BS-' || lpad(g::text, 5, '0'), p.id, 'TRADING', now() - interval '3 days', now() + interval '10 days', now() + interval '11 days', now() + interval '12 days', 400
      FROM products p, generate_series(1, ${SERIES}) g`);
    await client.query(
      `INSERT INTO members (id, name, kind, "updatedAt") SELECT gen_random_uuid(), 'bm-' || lpad(g::text, 6, '0'), 'TRADER', now() FROM generate_series(1, ${MEMBERS}) g`,
    );
    await client.query(`INSERT INTO ledger_accounts (id, code, "memberId", type, "mustNotGoNegative")
      SELECT gen_random_uuid(), 'member:' || m.id || ':' || lower(t), m.id, t::"AccountType", true FROM members m CROSS JOIN unnest(ARRAY['CASH','MARGIN','ESCROW','PENDING']) t`);
    await client.query(`CREATE TEMP TABLE bm AS SELECT id, row_number() OVER (ORDER BY name) - 1 AS i FROM members`);
    await client.query(
      `INSERT INTO trades (id, "seriesId", "priceFen", quantity, "buyerId", "sellerId", "businessDate")
      SELECT gen_random_uuid(), s.id, 395 + (a.i % 10), 1 + (a.i % 5), a.id, b.id, $1::date
      FROM series s JOIN bm a ON a.i % 2 = 0 JOIN bm b ON b.i = a.i + 1`,
      [day],
    );
    await client.query(`INSERT INTO positions ("memberId", "seriesId", "longQty", "shortQty", "updatedAt")
      SELECT "buyerId", "seriesId", quantity, 0, now() FROM trades UNION ALL SELECT "sellerId", "seriesId", 0, quantity, now() FROM trades`);
    // Initial margin held on every position at the reference price (cash → margin, opening transfers).
    await client.query(`UPDATE positions SET "marginQty" = abs("longQty" - "shortQty")`);
    await client.query(
      `INSERT INTO transfers (id, "idempotencyKey", "debitAccountId", "creditAccountId", "amountFen", kind, "businessDate")
      SELECT gen_random_uuid(), 'bench.opening-margin.' || h.m, c.id, g.id, h.fen, 'MARGIN_LOCK', $1::date
      FROM (SELECT "memberId" AS m, sum(("marginQty"::bigint * 400 * 10 * 1000 + 9999) / 10000) AS fen FROM positions GROUP BY 1) h
      JOIN ledger_accounts c ON c."memberId" = h.m AND c.type = 'CASH' JOIN ledger_accounts g ON g."memberId" = h.m AND g.type = 'MARGIN' WHERE h.fen > 0`,
      [addDays(day, -1)],
    );
    await client.query(`UPDATE ledger_accounts a SET "balanceFen" = a."balanceFen" + x.delta FROM (
      SELECT id, sum(d) AS delta FROM (SELECT "creditAccountId" AS id, "amountFen" AS d FROM transfers UNION ALL SELECT "debitAccountId", -"amountFen" FROM transfers) legs GROUP BY id) x
      WHERE a.id = x.id`);
    for (const d of days)
      await client.query(
        `INSERT INTO settlement_prices ("seriesId", "businessDate", "priceFen", method, details) SELECT id, $1::date, 400 + (random() * 20)::int, 'FIXED', '{}' FROM series`,
        [d],
      );
    await client.query('ANALYZE');
    progress(`generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

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
        QUEUE_PREFIX: `{bset${randomBytes(3).toString('hex')}}`,
      },
      `${base}/health/ready`,
    );
    server = running;
    // The end of day as the scheduler starts it: one DAILY run over every trading series.
    async function settleDay(d: string): Promise<number> {
      const r0 = performance.now();
      const res = await fetch(`${base}/v1/settlement/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'DAILY', businessDate: d }),
      });
      if (res.status !== 201) throw new Error(`start failed: ${res.status} ${await res.text()}`);
      const { items } = (await res.json()) as { items: { id: string; seriesCount: number }[] };
      if (items.length !== 1 || items[0].seriesCount !== SERIES)
        throw new Error(`expected one run over ${SERIES} series, got ${JSON.stringify(items)}`);
      for (;;) {
        const { rows } = await client.query<{ status: string; processed: number; total: number; error: string | null }>(
          `SELECT status, "processedItems" AS processed, "totalItems" AS total, error FROM settlement_runs WHERE id = $1`,
          [items[0].id],
        );
        rss.push(await rssMiB(running.pid!));
        const run = rows[0];
        if (run.status === 'COMPLETED') break;
        if (run.status === 'FAILED') throw new Error(`run failed: ${run.error}`);
        progress(
          `run ${run.status}: members ${run.processed}/${run.total}, ${((performance.now() - r0) / 1000).toFixed(1)} s, worker RSS ${rss.at(-1)!.toFixed(0)} MiB`,
        );
        await new Promise((r) => setTimeout(r, 20));
      }
      const ms = performance.now() - r0;
      // The reconciliation the run triggers works on the same cores: let it finish before the next repetition.
      const deadline = Date.now() + 600_000;
      while (Date.now() < deadline) {
        const { rows } = await client.query<{ n: string }>(
          `SELECT count(*) AS n FROM reconciliation_runs WHERE "settlementRunId" = $1 AND status <> 'RUNNING'`,
          [items[0].id],
        );
        if (Number(rows[0].n) > 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      return ms;
    }
    const scans: number[] = [];
    const runsMs: number[] = [];
    const rss: number[] = [];
    for (const [rep, d] of days.entries()) {
      const s0 = performance.now();
      await client.query(
        `SELECT "seriesId", sum("longQty" - "shortQty"), sum("longQty" + "shortQty"), count(*) FROM positions GROUP BY "seriesId"`,
      );
      scans.push(performance.now() - s0);
      progress(`rep ${rep + 1}/${REPS}: reference scan ${scans.at(-1)!.toFixed(0)} ms; DAILY runs for ${d}`);
      runsMs.push(await settleDay(d));
      progress(`rep ${rep + 1}/${REPS}: ${(runsMs.at(-1)! / 1000).toFixed(1)} s`);
    }
    const scanMs = median(scans);
    const runMs = median(runsMs);
    const [{ transfers, total }] = (
      await client.query<{ transfers: string; total: string }>(
        `SELECT count(*) AS transfers, (SELECT sum("balanceFen") FROM ledger_accounts) AS total FROM transfers WHERE "settlementRunId" IS NOT NULL`,
      )
    ).rows;
    progress(`${transfers} transfers posted; ledger total ${total}`);
    const positions = SERIES * MEMBERS;
    const figures: Figure[] = [
      {
        scenario: `DAILY settlement, ${SERIES} series, ${positions} positions`,
        figure: `ms (${(positions / (runMs / 1000)).toFixed(0)} positions/s)`,
        value: runMs,
        reference: 'SELECT sum() scan, ms',
        referenceValue: scanMs,
        ratio: runMs / scanMs,
        goal: '≤ 10× scan and < 60 s (at 1M positions)',
        met: runMs / scanMs <= 10 && (runMs * 1_000_000) / positions < 60_000,
      },
    ];
    printTable(figures);
    console.log(
      `DAILY run ${(runMs / 1000).toFixed(3)} s (median), ${(positions / (runMs / 1000)).toFixed(0)} positions/s; scan ${(scanMs / 1000).toFixed(3)} s; ratio ${(runMs / scanMs).toFixed(2)}×`,
    );
    console.log(`peak worker RSS ${Math.max(...rss).toFixed(0)} MiB; transfers posted ${transfers}; ledger total ${total}`);
    await writeResults('settlement', {
      machine: await machine(db.url),
      figures,
      notes: [
        `${REPS} interleaved repetitions (one business date each), medians`,
        `peak RSS of the API+worker process ${Math.max(...rss).toFixed(0)} MiB`,
        `${transfers} transfers (VM + IM) over the ${REPS} runs`,
        'one run per business date over every series (POST /v1/settlement/runs without a series, as the end-of-day job starts it), executed by the BullMQ settlement queue, timed from the POST to COMPLETED; the reconciliation it triggers finishes before the next repetition',
      ],
    });
  } finally {
    server?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1_500));
    await client.end();
    // BENCH_KEEP_DB=1 leaves the generated database for EXPLAIN ANALYZE and prints its URL.
    if (process.env.BENCH_KEEP_DB === '1') progress(`kept ${db.url}`);
    else await db.drop();
  }
}

await main();
