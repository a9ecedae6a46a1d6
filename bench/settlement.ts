// npm run bench:settlement — DAILY settlement of 1,000 series holding 1,000,000 open positions
// (500,000 opening trades), run by a real API + worker process, against a plain SELECT sum(...)
// scan over the same positions and that day's trades, measured on the same server in the same
// run. Every repetition settles its own business date, which has its own trades: in half the
// series inside the VWAP window (priced by VWAP), in a quarter earlier in the day with a resting
// bid and ask (priced by MID), in the rest earlier in the day with no quotes (PREVIOUS price).
// No price is fixed beforehand; the methods used are read back from settlement_prices.
import { type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadEnvConfig } from '../src/platform/config/config.js';
import { addDays, businessDateOf } from '../src/platform/time/business-date.js';
import { endOfBusinessDay } from '../src/settlement/domain/settlement-math.js';
import {
  freePort,
  machine,
  median,
  printTable,
  progress,
  rowStart,
  rssMiB,
  scratchDatabase,
  startServer,
  writeResults,
  type Figure,
} from './lib.js';

const SERIES = Number(process.env.BENCH_SERIES ?? 1_000);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 1_000); // every member holds a position in every series
// Trades per series on each repetition's business date.
const DAY_TRADES = Number(process.env.BENCH_DAY_TRADES ?? 10);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// The server and the bench agree on the cutoff and the VWAP window (defaults unless set).
const CONFIG = loadEnvConfig({ EOD_CUTOFF: process.env.EOD_CUTOFF, SETTLEMENT_VWAP_MINUTES: process.env.SETTLEMENT_VWAP_MINUTES });

async function main(): Promise<void> {
  const db = await scratchDatabase(true);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  // One business date per repetition (each a full DAILY run over every position, with its own
  // trades); the opening trades are the business date before the first.
  const days = Array.from({ length: REPS }, (_, i) => addDays(businessDateOf(new Date(), CONFIG.eodCutoff), i - REPS));
  const day = addDays(days[0], -1);
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
    // The opening day's price, so the first repetition has a previous settlement price to move from.
    await client.query(
      `INSERT INTO settlement_prices ("seriesId", "businessDate", "priceFen", method, details) SELECT id, $1::date, 400, 'FIXED', '{}' FROM series`,
      [day],
    );
    // Series by kind: 0, 1 → VWAP (trades inside the window); 2 → MID (earlier trades, a resting bid
    // 398 and ask 402, from the first two members, that nothing crosses); 3 → PREVIOUS (earlier trades only).
    await client.query(`CREATE TEMP TABLE bs AS SELECT id, row_number() OVER (ORDER BY code) - 1 AS i FROM series`);
    await client.query(
      `INSERT INTO orders (id, "seriesId", "memberId", side, "priceFen", quantity, status, "timeInForce", "updatedAt")
       SELECT gen_random_uuid(), s.id, m.id, o.side::"Side", o.price, 1, 'OPEN', 'GTC', now()
       FROM bs s CROSS JOIN (VALUES ('BUY', 398, 0), ('SELL', 402, 1)) o(side, price, who) JOIN bm m ON m.i = o.who
       WHERE s.i % 4 = 2`,
    );
    await client.query('ANALYZE');
    progress(`generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const key = `tck_bench_${randomBytes(20).toString('hex')}`;
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const running = await startServer(
      process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof2', 'dist/main.js'] : ['dist/main.js'],
      {
        DATABASE_URL: db.url,
        REDIS_URL,
        PORT: String(port),
        HOST: '127.0.0.1',
        BOOTSTRAP_CLEARING_KEY: key,
        LOG_LEVEL: 'error',
        QUEUE_PREFIX: `{bset${randomBytes(3).toString('hex')}}`,
        EOD_CUTOFF: CONFIG.eodCutoff,
        SETTLEMENT_VWAP_MINUTES: String(CONFIG.settlement.vwapMinutes),
      },
      `${base}/health/ready`,
    );
    server = running;
    const vwapMinutes = CONFIG.settlement.vwapMinutes;
    /** The day's trades (not timed): DAY_TRADES per series between member pairs, positions moved to match. */
    async function tradeDay(d: string): Promise<number> {
      const end = endOfBusinessDay(d, CONFIG.eodCutoff);
      const inWindow = new Date(end.getTime() - (vwapMinutes * 60_000) / 2);
      const before = new Date(end.getTime() - (vwapMinutes + 60) * 60_000);
      const { rowCount } = await client.query(
        `INSERT INTO trades (id, "seriesId", "priceFen", quantity, "buyerId", "sellerId", "businessDate", "createdAt")
         SELECT gen_random_uuid(), s.id, 396 + ((s.i + k) % 9), 1 + (k % 3), a.id, b.id, $1::date,
                CASE WHEN s.i % 4 < 2 THEN $2::timestamptz ELSE $3::timestamptz END + k * interval '1 ms'
         FROM bs s CROSS JOIN generate_series(0, ${DAY_TRADES - 1}) k
         JOIN bm a ON a.i = (2 * (s.i + k * 7)) % ${MEMBERS - (MEMBERS % 2)}
         JOIN bm b ON b.i = a.i + 1`,
        [d, inWindow, before],
      );
      await client.query(
        `UPDATE positions p SET "longQty" = p."longQty" + x.l, "shortQty" = p."shortQty" + x.s, "updatedAt" = now()
         FROM (SELECT m, "seriesId", sum(l)::int AS l, sum(s)::int AS s FROM (
                 SELECT "buyerId" AS m, "seriesId", quantity AS l, 0 AS s FROM trades WHERE "businessDate" = $1::date
                 UNION ALL SELECT "sellerId", "seriesId", 0, quantity FROM trades WHERE "businessDate" = $1::date) legs
               GROUP BY 1, 2) x
         WHERE p."memberId" = x.m AND p."seriesId" = x."seriesId"`,
        [d],
      );
      await client.query('ANALYZE trades');
      await client.query('ANALYZE positions');
      return rowCount ?? 0;
    }
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
    const perRep: { businessDate: string; trades: number; methods: Record<string, number>; ms: number; scanMs: number }[] = [];
    const started = await rowStart();
    for (const [rep, d] of days.entries()) {
      const trades = await tradeDay(d);
      if (trades === 0) throw new Error(`no trades generated for ${d}`);
      const s0 = performance.now();
      await client.query(
        `SELECT "seriesId", sum("longQty" - "shortQty"), sum("longQty" + "shortQty"), count(*) FROM positions GROUP BY "seriesId"`,
      );
      await client.query(
        `SELECT "seriesId", sum("priceFen" * quantity), sum(quantity) FROM trades WHERE "businessDate" = $1::date GROUP BY 1`,
        [d],
      );
      scans.push(performance.now() - s0);
      progress(`rep ${rep + 1}/${REPS}: ${trades} trades on ${d}; reference scan ${scans.at(-1)!.toFixed(0)} ms; DAILY run`);
      runsMs.push(await settleDay(d));
      const { rows: methods } = await client.query<{ method: string; n: string }>(
        `SELECT method::text, count(*) AS n FROM settlement_prices WHERE "businessDate" = $1::date GROUP BY 1 ORDER BY 1`,
        [d],
      );
      const byMethod = Object.fromEntries(methods.map((r) => [r.method, Number(r.n)]));
      perRep.push({ businessDate: d, trades, methods: byMethod, ms: runsMs.at(-1)!, scanMs: scans.at(-1)! });
      progress(`rep ${rep + 1}/${REPS}: ${(runsMs.at(-1)! / 1000).toFixed(1)} s; prices by method ${JSON.stringify(byMethod)}`);
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
    // Every repetition must have done the real work: its own trades, and prices derived (not fixed).
    const noWork = perRep.filter((r) => r.trades === 0 || !r.methods.VWAP || !r.methods.MID || r.methods.FIXED);
    const reasons = [
      ...(runMs / scanMs > 5 ? [`${(runMs / scanMs).toFixed(2)}× > 5× scan`] : []),
      ...(noWork.length ? [`repetitions without trades or without VWAP/MID prices: ${noWork.map((r) => r.businessDate).join(', ')}`] : []),
      ...(positions < 1_000_000 ? [`${positions} positions, not 1M (smoke size)`] : []),
    ];
    const figures: Figure[] = [
      {
        scenario: `DAILY settlement, ${SERIES} series, ${positions} positions, ${median(perRep.map((r) => r.trades))} trades that day`,
        figure: `ms (${(positions / (runMs / 1000)).toFixed(0)} positions/s)`,
        value: runMs,
        reference: "SELECT sum() scan of positions + the day's trades, ms",
        referenceValue: scanMs,
        ratio: runMs / scanMs,
        goal: "≤ 5× scan (1M positions, with that day's trades)",
        met: reasons.length === 0,
        ...(reasons.length ? { failReason: reasons.join('; ') } : {}),
        ...started,
        peakRssMiB: Math.max(...rss),
        rssOf: 'API+worker process',
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
      repetitions: perRep,
      notes: [
        `${REPS} interleaved repetitions (one business date each, each with its own trades), medians`,
        ...perRep.map(
          (r, i) =>
            `rep ${i + 1}: ${r.businessDate}, ${r.trades} trades that day, prices by method ${Object.entries(r.methods)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')} (read back from settlement_prices), run ${r.ms.toFixed(0)} ms, scan ${r.scanMs.toFixed(0)} ms`,
        ),
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
