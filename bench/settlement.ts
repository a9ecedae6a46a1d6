// npm run bench:settlement — DAILY settlement of 1,000 series holding 1,000,000 open positions
// (500,000 trades), run by a real API + worker process, against a plain SELECT sum(...) scan
// over the same positions, measured on the same server in the same run.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { addDays, businessDateOf } from '../src/platform/time/business-date.js';
import { freePort, machine, median, printTable, progress, scratchDatabase, startServer, writeResults, type Figure } from './lib.js';

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
    await client.query(`INSERT INTO members (id, name, kind, "updatedAt") SELECT gen_random_uuid(), 'bm-' || lpad(g::text, 6, '0'), 'TRADER', now() FROM generate_series(1, ${MEMBERS}) g`);
    await client.query(`INSERT INTO ledger_accounts (id, code, "memberId", type, "mustNotGoNegative")
      SELECT gen_random_uuid(), 'member:' || m.id || ':' || lower(t), m.id, t::"AccountType", true FROM members m CROSS JOIN unnest(ARRAY['CASH','MARGIN','ESCROW','PENDING']) t`);
    await client.query(`CREATE TEMP TABLE bm AS SELECT id, row_number() OVER (ORDER BY name) - 1 AS i FROM members`);
    await client.query(`INSERT INTO trades (id, "seriesId", "priceFen", quantity, "buyerId", "sellerId", "businessDate")
      SELECT gen_random_uuid(), s.id, 395 + (a.i % 10), 1 + (a.i % 5), a.id, b.id, $1::date
      FROM series s JOIN bm a ON a.i % 2 = 0 JOIN bm b ON b.i = a.i + 1`, [day]);
    await client.query(`INSERT INTO positions ("memberId", "seriesId", "longQty", "shortQty", "updatedAt")
      SELECT "buyerId", "seriesId", quantity, 0, now() FROM trades UNION ALL SELECT "sellerId", "seriesId", 0, quantity, now() FROM trades`);
    for (const d of days) await client.query(`INSERT INTO settlement_prices ("seriesId", "businessDate", "priceFen", method, details) SELECT id, $1::date, 400 + (random() * 20)::int, 'FIXED', '{}' FROM series`, [d]);
    await client.query('ANALYZE');
    progress(`generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const key = `tck_bench_${randomBytes(20).toString('hex')}`;
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const running = await startServer(
      ['dist/main.js'],
      { DATABASE_URL: db.url, REDIS_URL, PORT: String(port), HOST: '127.0.0.1', BOOTSTRAP_CLEARING_KEY: key, LOG_LEVEL: 'error', QUEUE_PREFIX: `{bset${randomBytes(3).toString('hex')}}` },
      `${base}/health/ready`,
    );
    server = running;
    const codes = (await client.query<{ code: string }>('SELECT code FROM series ORDER BY code')).rows.map((r) => r.code);
    async function settleDay(d: string): Promise<number> {
      const r0 = performance.now();
      for (const code of codes) {
        const res = await fetch(`${base}/v1/settlement/runs`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'DAILY', series: code, businessDate: d }) });
        if (res.status !== 201) throw new Error(`start failed: ${res.status} ${await res.text()}`);
      }
      for (;;) {
        const { rows } = await client.query<{ done: string; failed: string }>(`SELECT count(*) FILTER (WHERE status = 'COMPLETED') AS done, count(*) FILTER (WHERE status = 'FAILED') AS failed FROM settlement_runs WHERE "businessDate" = $1::date`, [d]);
        const ps = spawn('ps', ['-o', 'rss=', '-p', String(running.pid)]);
        let out = '';
        ps.stdout.on('data', (d: Buffer) => (out += d.toString()));
        await new Promise((r) => ps.on('exit', r));
        rss.push(Number(out.trim()) / 1024);
        progress(`runs completed ${rows[0].done}/${codes.length} (failed ${rows[0].failed}), ${((performance.now() - r0) / 1000).toFixed(1)} s, worker RSS ${rss.at(-1)!.toFixed(0)} MiB`);
        if (Number(rows[0].done) + Number(rows[0].failed) === codes.length) break;
        await new Promise((r) => setTimeout(r, 2_000));
      }
      return performance.now() - r0;
    }
    const scans: number[] = [];
    const runsMs: number[] = [];
    const rss: number[] = [];
    for (const [rep, d] of days.entries()) {
      const s0 = performance.now();
      await client.query(`SELECT "seriesId", sum("longQty" - "shortQty"), sum("longQty" + "shortQty"), count(*) FROM positions GROUP BY "seriesId"`);
      scans.push(performance.now() - s0);
      progress(`rep ${rep + 1}/${REPS}: reference scan ${scans.at(-1)!.toFixed(0)} ms; DAILY runs for ${d}`);
      runsMs.push(await settleDay(d));
      progress(`rep ${rep + 1}/${REPS}: ${(runsMs.at(-1)! / 1000).toFixed(1)} s`);
    }
    const scanMs = median(scans);
    const runMs = median(runsMs);
    const [{ transfers, total }] = (await client.query<{ transfers: string; total: string }>(`SELECT count(*) AS transfers, (SELECT sum("balanceFen") FROM ledger_accounts) AS total FROM transfers WHERE "settlementRunId" IS NOT NULL`)).rows;
    progress(`${transfers} transfers posted; ledger total ${total}`);
    const positions = SERIES * MEMBERS;
    const figures: Figure[] = [
      { scenario: `DAILY settlement, ${SERIES} series, ${positions} positions`, figure: `s (${(positions / (runMs / 1000)).toFixed(0)} positions/s)`, value: runMs / 1000, reference: 'SELECT sum() scan, s', referenceValue: scanMs / 1000, ratio: runMs / scanMs, goal: '≤ 10× scan and < 60 s (at 1M positions)', met: runMs / scanMs <= 10 && (runMs * 1_000_000) / positions < 60_000 },
    ];
    printTable(figures);
    console.log(`peak worker RSS ${Math.max(...rss).toFixed(0)} MiB; transfers posted ${transfers}; ledger total ${total}`);
    await writeResults('settlement', { machine: await machine(db.url), figures, notes: [`${REPS} interleaved repetitions (one business date each), medians`, `peak RSS of the API+worker process ${Math.max(...rss).toFixed(0)} MiB`, `${transfers} transfers (VM + IM)`, 'runs started over HTTP, executed by the BullMQ settlement queue (concurrency 2)'] });
  } finally {
    server?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1_500));
    await client.end();
    await db.drop();
  }
}

await main();
