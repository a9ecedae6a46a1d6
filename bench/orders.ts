// npm run bench:orders — orders/s and latency over HTTP to 1 and to 10 series, against a bare
// NestJS endpoint doing one SELECT 1 on the same Postgres, same client loop, same run. In each
// repetition: the 10-series load on a product without and on one with portfolio margin (issue 23,
// their order alternating), and every load on 1 and on 2 API copies (issue 27), each count of
// copies against as many copies of the reference.
// Knobs: BENCH_REPS, BENCH_SECONDS, BENCH_CLIENTS, BENCH_COPIES (default 1,2), BENCH_PROFILE=1
// (API+worker under --cpu-prof, /tmp/prof), BENCH_FEE_FEN (fee per contract; 0 takes the ccp:fees
// account out of every order).
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copiesList, cpuOf, startCopies, stopProcess } from './copies.js';
import { load, type LoadResult, type Send } from './http-load.js';
import {
  freePort,
  machine,
  machineBusySeconds,
  median,
  postgresPids,
  printTable,
  progress,
  rowStart,
  scratchDatabase,
  startServer,
  writeResults,
  type Figure,
} from './lib.js';
import { orderTo, PORTFOLIO, poster, productFacts, setupMarket } from './orders-market.js';
import { buckets, formatBound, minus, plus, quantileBound, scalar, scrape, type Buckets } from './prom.js';

const REPS = Number(process.env.BENCH_REPS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const COPIES = copiesList();
const PRETRADE = 'order_batch_pretrade_seconds';
/** The portfolio-margin load runs at the first count of copies only (issue 23 is about one API). */
const PM_KEY = `tenPM×${COPIES[0]}`;
const FASTIFY_KEY = `pingFastify×${COPIES[0]}`;

/** One phase of one repetition: the load, the servers' CPU over it, and what the API's metrics saw. */
interface Sample extends LoadResult {
  /** CPU seconds (user + system) of each server process over the phase. */
  cpu: number[];
  /** CPU seconds of every Postgres process, of this bench process (the clients), and busy seconds of the whole machine, over the phase. */
  pgCpu: number;
  benchCpu: number;
  machineBusy: number;
  preTrade: Buckets;
  preTradeSeconds: number;
  /** Seconds inside batch transactions (BEGIN to COMMIT), summed. */
  batchSeconds: number;
  batches: number;
  batchedOrders: number;
}

/** What a phase reads from the API's metrics (the rest of a Sample comes from the load and /proc). */
type FromMetrics = Omit<Sample, keyof LoadResult | 'cpu' | 'pgCpu' | 'benchCpu' | 'machineBusy'>;

const empty = (): FromMetrics => ({
  preTrade: new Map(),
  preTradeSeconds: 0,
  batchSeconds: 0,
  batches: 0,
  batchedOrders: 0,
});

/** Metrics of one API process's scrape that a phase diffs. */
function inside(text: string): FromMetrics {
  return {
    preTrade: buckets(text, PRETRADE),
    preTradeSeconds: scalar(text, `${PRETRADE}_sum`),
    batchSeconds: scalar(text, 'order_batch_seconds_sum'),
    batches: scalar(text, 'order_batch_size_count'),
    batchedOrders: scalar(text, 'order_batch_size_sum'),
  };
}

async function measure(bases: string[], pids: number[], send: Send, metrics: boolean): Promise<Sample> {
  const before = metrics ? await Promise.all(bases.map(scrape)) : [];
  const pg = await postgresPids();
  const [cpu0, pg0, busy0, bench0] = [await cpuOf(pids), await cpuOf(pg), await machineBusySeconds(), process.cpuUsage()];
  const r = await load(bases, SECONDS, CLIENTS, send, pids);
  const [cpu1, pg1, busy1, bench1] = [await cpuOf(pids), await cpuOf(pg), await machineBusySeconds(), process.cpuUsage(bench0)];
  const after = metrics ? await Promise.all(bases.map(scrape)) : [];
  const s: Sample = {
    ...r,
    cpu: cpu1.map((c, i) => c - cpu0[i]),
    // A backend that exited over the phase reads 0 at the end: it counts nothing rather than minus its CPU.
    pgCpu: pg1.reduce((a, c, i) => a + Math.max(0, c - pg0[i]), 0),
    benchCpu: (bench1.user + bench1.system) / 1e6,
    machineBusy: busy1 - busy0,
    ...empty(),
  };
  for (let i = 0; i < after.length; i++) {
    const [a, b] = [inside(after[i]), inside(before[i])];
    s.preTrade = plus(s.preTrade, minus(a.preTrade, b.preTrade));
    s.preTradeSeconds += a.preTradeSeconds - b.preTradeSeconds;
    s.batchSeconds += a.batchSeconds - b.batchSeconds;
    s.batches += a.batches - b.batches;
    s.batchedOrders += a.batchedOrders - b.batchedOrders;
  }
  return s;
}

async function main(): Promise<void> {
  if (!existsSync('dist/main.js')) throw new Error('run `npm run build` first (npm run bench:orders does)');
  const db = await scratchDatabase(true);
  const key = `tck_bench_${randomBytes(20).toString('hex')}`;
  const apiPort = await freePort();
  const base = `http://127.0.0.1:${apiPort}`;
  const apiArgs = process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof', 'dist/main.js'] : ['dist/main.js'];
  // Every copy: the same database, Redis and queues (QUEUE_PREFIX), as replicas would share them.
  const apiEnv = {
    DATABASE_URL: db.url,
    REDIS_URL,
    HOST: '127.0.0.1',
    BOOTSTRAP_CLEARING_KEY: key,
    LOG_LEVEL: 'error',
    NODE_ENV: 'production',
    // Production requires it (the verification sample's key); every copy shares it.
    VERIFICATION_SAMPLING_KEY: randomBytes(32).toString('hex'),
    QUEUE_PREFIX: `{bench${randomBytes(3).toString('hex')}}`,
  };
  progress(`starting the API (dist/main.js) and ${Math.max(...COPIES)} reference server(s)`);
  const app = await startServer(apiArgs, { ...apiEnv, PORT: String(apiPort) }, `${base}/health/ready`);
  // The reference servers do nothing between requests: all of them run throughout.
  const refs: ChildProcess[] = [];
  const refBases: string[] = [];
  const extra: ChildProcess[] = [];
  try {
    /** A reference server (bench/reference-server.ts) on its own port; answers its base URL. */
    const startReference = async (env: Record<string, string> = {}): Promise<string> => {
      const refBase = `http://127.0.0.1:${await freePort()}`;
      refs.push(
        await startServer(
          ['--import', 'tsx', 'bench/reference-server.ts'],
          { DATABASE_URL: db.url, PORT: new URL(refBase).port, ...env },
          `${refBase}/ping`,
        ),
      );
      return refBase;
    };
    for (let i = 0; i < Math.max(...COPIES); i++) refBases.push(await startReference());
    // The same reference on Fastify (one server, measured at the first count of copies): the HTTP
    // adapter as a lever, measured instead of guessed.
    const fastifyBase = await startReference({ REFERENCE_ADAPTER: 'fastify' });
    const fastifyPid = refs.at(-1)!.pid!;
    progress(`setting up ${CLIENTS} members; products BENCH (1 + 10 series) and BENCHPM (10 series, portfolio margin)`);
    const market = await setupMarket(poster(base, key), CLIENTS, Number(process.env.BENCH_FEE_FEN ?? 1));
    const ping: Send = () => ({ path: '/ping', method: 'GET' });
    const [one, ten, tenPM] = [
      orderTo(market.off.slice(0, 1), market.traders),
      orderTo(market.off.slice(1), market.traders),
      orderTo(market.on, market.traders),
    ];
    const samples = new Map<string, Sample[]>();
    const record = (k: string, s: Sample) => {
      samples.set(k, [...(samples.get(k) ?? []), s]);
      const cores = s.cpu.map((c) => (c / s.elapsedSeconds).toFixed(2)).join(' + ');
      progress(
        `  ${k}: ${s.accepted}/${s.sent} accepted, ${s.refused} refused, ${s.errors} errors, ${s.perSecond.toFixed(0)}/s accepted; server CPU ${cores} cores`,
      );
    };
    const pmChecks: string[] = [];
    const { commit } = await rowStart();
    for (let rep = 1; rep <= REPS; rep++) {
      for (const n of COPIES) {
        progress(`rep ${rep}/${REPS}, ${n} API cop${n === 1 ? 'y' : 'ies'}`);
        const started = n > 1 ? await startCopies(n - 1, apiArgs, apiEnv) : { bases: [], processes: [] };
        extra.push(...started.processes);
        const bases = [base, ...started.bases];
        const pids = [app.pid!, ...started.processes.map((p) => p.pid!)];
        // A replica in service is warm: a new copy gets one unmeasured second of orders first.
        if (n > 1) await load(bases, 1, CLIENTS, ten, pids);
        record(
          `ping×${n}`,
          await measure(
            refBases.slice(0, n),
            refs.slice(0, n).map((r) => r.pid!),
            ping,
            false,
          ),
        );
        if (n === COPIES[0]) record(FASTIFY_KEY, await measure([fastifyBase], [fastifyPid], ping, false));
        record(`one×${n}`, await measure(bases, pids, one, true));
        // Portfolio margin off and on, at the first count of copies: off, on, on, off in odd
        // repetitions and on, off, off, on in even ones (ABBA), so a drift over the repetition
        // weighs on both alike and neither always goes first. Single 5 s phases vary by ±10 % on
        // these machines: two of each per repetition halve what one noisy phase does to the ratio.
        const offOn: [string, Send][] = [
          [`ten×${n}`, ten],
          [PM_KEY, tenPM],
        ];
        const tens =
          n !== COPIES[0] ? [offOn[0]] : rep % 2 ? [offOn[0], offOn[1], offOn[1], offOn[0]] : [offOn[1], offOn[0], offOn[0], offOn[1]];
        for (const [k, send] of tens) record(k, await measure(bases, pids, send, true));
        if (n === COPIES[0]) {
          // The on-product's orders must have gone through portfolio margin: its adjustments are written.
          const f = await productFacts(db.url, 'BENCHPM');
          if (f.nonZero === 0) throw new Error(`BENCHPM: no non-zero portfolio adjustment written after rep ${rep} (${JSON.stringify(f)})`);
          pmChecks.push(`rep ${rep}: ${f.trades} trades, ${f.adjustments} portfolio_margins rows (${f.nonZero} non-zero)`);
          progress(`  BENCHPM in the database: ${pmChecks.at(-1)!}; net credits Σ ${f.creditFen} fen, net charges Σ ${f.addOnFen} fen`);
        }
        for (const p of started.processes) await stopProcess(p);
      }
    }
    const figures = rowsOf(samples, commit);
    printTable(figures.rows);
    const [offFacts, onFacts] = [await productFacts(db.url, 'BENCH'), await productFacts(db.url, 'BENCHPM')];
    const counts = Object.fromEntries(
      [...samples].map(([k, ss]) => [
        k,
        { sent: sumOf(ss, 'sent'), accepted: sumOf(ss, 'accepted'), refused: sumOf(ss, 'refused'), errors: sumOf(ss, 'errors') },
      ]),
    );
    console.log(`counts over all repetitions: ${JSON.stringify(counts)}`);
    await writeResults('orders', {
      machine: await machine(db.url),
      figures: figures.rows,
      counts,
      preTrade: figures.preTrade,
      notes: [
        `${REPS} interleaved repetitions of ${SECONDS} s, medians; in each: for each of ${COPIES.join(', ')} API cop(ies) the reference on as many reference servers, 1 series, 10 series (and at ${COPIES[0]} cop${COPIES[0] === 1 ? 'y' : 'ies'} 10 series of BENCH and of BENCHPM twice each, off-on-on-off in odd repetitions and on-off-off-on in even ones: the 10-series figures there are medians of ${2 * REPS} phases); ${CLIENTS} clients in the bench process (undici Pool.request, keep-alive), client c pinned to copy c mod N`,
        'only accepted (2xx) orders count toward orders/s; refused = 4xx answers other than 429, errors = 5xx, 429 and requests with no answer; p50/p99 over every request; a row with more than 1 % errors is failed',
        `portfolio margin: BENCHPM is BENCH with spreadChargeBp ${PORTFOLIO.spreadChargeBp}, concentrationThresholdBp ${PORTFOLIO.concentrationThresholdBp}, concentrationAddOnBp ${PORTFOLIO.concentrationAddOnBp}; series a month apart; in the database at the end: BENCHPM ${onFacts.trades} trades, ${onFacts.adjustments} portfolio_margins rows (${onFacts.nonZero} non-zero; members with a net credit Σ ${onFacts.creditFen} fen, with a net charge Σ ${onFacts.addOnFen} fen); BENCH ${offFacts.trades} trades, ${offFacts.adjustments} rows; ${pmChecks.join('; ')}`,
        ...figures.notes,
        'the 10-series load now trades: its side used to be (client + i) mod 2 with the series (client + i) mod 10, so every order of a series was on one side and 10 series only rested orders (figures before this change are of that load)',
      ],
    });
  } finally {
    for (const p of [...extra, app, ...refs]) await stopProcess(p, 3_000);
    if (process.env.BENCH_KEEP_DB === '1') progress(`kept ${db.url}`);
    else await db.drop();
  }
}

const sumOf = (ss: Sample[], f: 'sent' | 'accepted' | 'refused' | 'errors') => ss.reduce((a, s) => a + s[f], 0);
const pct = (x: number, of: number) => (of === 0 ? 0 : (100 * x) / of);

/** The rows, the notes that go with them, and the pre-trade histograms kept in the results file. */
function rowsOf(samples: Map<string, Sample[]>, commit: string): { rows: Figure[]; notes: string[]; preTrade: Record<string, unknown> } {
  const of = (k: string) => samples.get(k) ?? [];
  const m = (k: string, f: 'perSecond' | 'p50' | 'p99') => median(of(k).map((s) => s[f]));
  const errPct = (k: string) => pct(sumOf(of(k), 'errors'), sumOf(of(k), 'sent'));
  const cpu = (k: string) => {
    const ss = of(k);
    const total = ss.reduce((a, s) => a + s.cpu.reduce((x, y) => x + y, 0), 0);
    const wall = ss.reduce((a, s) => a + s.elapsedSeconds, 0);
    return { cores: total / wall, usPerOrder: (total * 1e6) / Math.max(1, sumOf(ss, 'accepted')) };
  };
  const preTrade = (k: string) => {
    const ss = of(k);
    const b = ss.reduce((acc, s) => plus(acc, s.preTrade), new Map<number, number>());
    const q = quantileBound(b, 0.99);
    const batches = ss.reduce((a, s) => a + s.batches, 0);
    return {
      p99: formatBound(q.le),
      meanMs: (ss.reduce((a, s) => a + s.preTradeSeconds, 0) * 1000) / Math.max(1, q.count),
      batchMeanMs: (ss.reduce((a, s) => a + s.batchSeconds, 0) * 1000) / Math.max(1, q.count),
      count: q.count,
      ordersPerBatch: ss.reduce((a, s) => a + s.batchedOrders, 0) / Math.max(1, batches),
      buckets: [...b].map(([le, n]) => [String(le), n]),
    };
  };
  const errorRule = (k: string) => (errPct(k) > 1 ? [`errors ${errPct(k).toFixed(2)} % > 1 %: run failed`] : []);
  const row = (
    k: string,
    n: number,
    label: string,
    goal: string,
    reasons: string[],
    reference?: { label: string; value: number },
  ): Figure => {
    const pingKey = `ping×${n}`;
    const ping = m(pingKey, 'perSecond');
    const pingFailed = pct(sumOf(of(pingKey), 'errors') + sumOf(of(pingKey), 'refused'), sumOf(of(pingKey), 'sent'));
    // The reference must answer too: a reference that errored would make every ratio flatter.
    const all = [...reasons, ...(pingFailed > 1 ? [`reference failed ${pingFailed.toFixed(1)} % of its requests`] : [])];
    const c = cpu(k);
    const ref = reference ?? { label: `NestJS SELECT 1 req/s${n > 1 ? `, ${n} copies` : ''}`, value: ping };
    return {
      scenario: `orders over HTTP, ${label} (${CLIENTS} clients${n > 1 ? `, ${n} API copies` : ''})`,
      figure: `accepted orders/s (p50 ${m(k, 'p50').toFixed(1)} ms, p99 ${m(k, 'p99').toFixed(1)} ms; refused ${pct(sumOf(of(k), 'refused'), sumOf(of(k), 'sent')).toFixed(2)} %, errors ${errPct(k).toFixed(2)} %; API CPU ${c.cores.toFixed(2)} cores, ${c.usPerOrder.toFixed(0)} µs/order)`,
      value: m(k, 'perSecond'),
      reference: ref.label,
      referenceValue: ref.value,
      ratio: m(k, 'perSecond') / ref.value,
      goal,
      met: all.length === 0,
      ...(all.length ? { failReason: all.join('; ') } : {}),
      startedAt: of(k)[0].startedAt,
      commit,
      peakRssMiB: Math.max(...of(k).map((s) => s.peakRssMiB)),
      rssOf: n > 1 ? `largest of ${n} API+worker processes` : 'API+worker process (dist/main.js)',
    };
  };
  const rows: Figure[] = [];
  const notes: string[] = [];
  const first = COPIES[0];
  for (const n of COPIES) {
    const [oneK, tenK] = [`one×${n}`, `ten×${n}`];
    rows.push(row(oneK, n, '1 series', 'report (errors ≤ 1 %)', errorRule(oneK)));
    const ten = m(tenK, 'perSecond');
    const ratio = ten / m(`ping×${n}`, 'perSecond');
    rows.push(
      n === 1
        ? row(tenK, n, '10 series', '≥ 2,000 accepted/s, p99 < 50 ms, ≥ 0.6× SELECT 1, errors ≤ 1 %', [
            ...errorRule(tenK),
            ...(ten < 2000 ? [`${ten.toFixed(0)} accepted/s < 2,000`] : []),
            ...(m(tenK, 'p99') >= 50 ? [`p99 ${m(tenK, 'p99').toFixed(1)} ms ≥ 50 ms`] : []),
            ...(ratio < 0.6 ? [`${ratio.toFixed(2)}× < 0.6× SELECT 1`] : []),
          ])
        : row(tenK, n, '10 series', 'report (errors ≤ 1 %)', errorRule(tenK)),
    );
    if (n !== first) {
      const x = (k: string) => (m(`${k}×${n}`, 'perSecond') / m(`${k}×${first}`, 'perSecond')).toFixed(2);
      // Cores each copy used, by phase: whether the second copy got CPU of its own or took the first's.
      const cores = (k: string) => of(k).map((s) => s.cpu.map((v) => (v / s.elapsedSeconds).toFixed(2)).join(' + '));
      // Each copy batches only its own clients' orders while Postgres serialises a series across copies.
      const perBatch = (k: string) =>
        (
          of(k).reduce((a, s) => a + s.batchedOrders, 0) /
          Math.max(
            1,
            of(k).reduce((a, s) => a + s.batches, 0),
          )
        ).toFixed(1);
      notes.push(
        `${n} copies ÷ ${first}: 1 series ${x('one')}×, 10 series ${x('ten')}×, SELECT 1 reference ${x('ping')}× (medians of the same run); API CPU (cores per copy, by phase), 10 series: ${n} copies ${cores(`ten×${n}`).join(' | ')}; ${first} cop${first === 1 ? 'y' : 'ies'} ${cores(`ten×${first}`).join(' | ')} — on 2 cores shared with the bench's clients and Postgres; orders per batch, 10 series: ${perBatch(`ten×${n}`)} at ${n} copies, ${perBatch(`ten×${first}`)} at ${first}`,
      );
    }
  }
  // Where the two cores go, per accepted order and per SELECT 1 request: the budget that bounds the
  // 10-series goal (a load that keeps the machine busy cannot go faster than cores ÷ CPU per order).
  const budget = (k: string) => {
    const ss = of(k);
    const per = 1e6 / Math.max(1, sumOf(ss, 'accepted'));
    const total = (f: (s: Sample) => number) => ss.reduce((a, s) => a + f(s), 0);
    const api = cpu(k).usPerOrder;
    const pg = total((s) => s.pgCpu) * per;
    const clients = total((s) => s.benchCpu) * per;
    return { api, pg, clients, all: api + pg + clients, busyCores: total((s) => s.machineBusy) / total((s) => s.elapsedSeconds) };
  };
  const [tenB, pingB] = [budget(`ten×${first}`), budget(`ping×${first}`)];
  const us = (x: number) => x.toFixed(0);
  const need = (perSecond: number, b: { all: number }) => ((perSecond * b.all) / 1e6).toFixed(2);
  notes.push(
    `CPU per accepted order, 10 series, ${first} cop${first === 1 ? 'y' : 'ies'} (user + system, /proc, over each phase): API ${us(tenB.api)} µs, Postgres ${us(tenB.pg)} µs, the bench's clients ${us(tenB.clients)} µs — ${us(tenB.all)} µs in all, with the machine busy ${tenB.busyCores.toFixed(2)} of its 2 cores; at that cost 2,000 orders/s would take ${need(2000, tenB)} cores and 0.6× SELECT 1 (${(0.6 * m(`ping×${first}`, 'perSecond')).toFixed(0)}/s) ${need(0.6 * m(`ping×${first}`, 'perSecond'), tenB)}; the SELECT 1 reference: API ${us(pingB.api)} µs, Postgres ${us(pingB.pg)} µs, clients ${us(pingB.clients)} µs a request (${us(pingB.all)} µs; machine busy ${pingB.busyCores.toFixed(2)} cores)`,
  );
  // The HTTP adapter: the SELECT 1 reference on Fastify against the same on Express, same run.
  const [express, fastify] = [cpu(`ping×${first}`), cpu(FASTIFY_KEY)];
  rows.push({
    ...row(FASTIFY_KEY, first, 'SELECT 1 reference on Fastify vs on Express', 'report', errorRule(FASTIFY_KEY), {
      label: `NestJS SELECT 1 req/s on Express (server CPU ${express.usPerOrder.toFixed(0)} µs a request)`,
      value: m(`ping×${first}`, 'perSecond'),
    }),
    scenario: `NestJS SELECT 1 on @nestjs/platform-fastify vs @nestjs/platform-express (${CLIENTS} clients)`,
    figure: `req/s on Fastify (p50 ${m(FASTIFY_KEY, 'p50').toFixed(1)} ms, p99 ${m(FASTIFY_KEY, 'p99').toFixed(1)} ms; server CPU ${fastify.usPerOrder.toFixed(0)} µs a request)`,
    rssOf: 'reference server (bench/reference-server.ts, REFERENCE_ADAPTER=fastify)',
  });
  const [offK, onK] = [`ten×${first}`, PM_KEY];
  const on = m(onK, 'perSecond');
  const off = m(offK, 'perSecond');
  const [pOn, pOff] = [preTrade(onK), preTrade(offK)];
  rows.push(row(onK, first, '10 series, portfolio margin on', 'report (errors ≤ 1 %)', errorRule(onK)));
  // Each repetition's on ÷ off, over its two phases of each.
  const perRep = Array.from({ length: Math.floor(of(onK).length / 2) }, (_, r) => {
    const sum = (k: string) => of(k)[2 * r].perSecond + of(k)[2 * r + 1].perSecond;
    return (sum(onK) / sum(offK)).toFixed(2);
  });
  rows.push({
    ...row(
      onK,
      first,
      '10 series, portfolio margin on vs off',
      'on ≥ 0.9× off (same run)',
      [...errorRule(onK), ...errorRule(offK), ...(on / off < 0.9 ? [`${(on / off).toFixed(2)}× < 0.9× off`] : [])],
      { label: 'the same load on the product without portfolio margin (same run), accepted orders/s', value: off },
    ),
    figure: `accepted orders/s with portfolio margin on (pre-trade step p99 ${pOn.p99} on, ${pOff.p99} off; per repetition on ÷ off ${perRep.join(', ')})`,
  });
  notes.push(
    `pre-trade step of an order batch (OrderBatcher: runBatch — checks, matching, outright and portfolio margin; not the batch's reads and writes), histogram ${PRETRADE} from each API copy's /metrics diffed over the phase: p99 bucket-bounded (the upper bound of the bucket holding it) — 10 series off ${pOff.p99} (mean ${pOff.meanMs.toFixed(3)} ms, ${pOff.count} batches, ${pOff.ordersPerBatch.toFixed(1)} orders/batch), on ${pOn.p99} (mean ${pOn.meanMs.toFixed(3)} ms, ${pOn.count} batches, ${pOn.ordersPerBatch.toFixed(1)} orders/batch); the whole batch transaction (order_batch_seconds, BEGIN to COMMIT, series locks held) — off mean ${pOff.batchMeanMs.toFixed(2)} ms, on ${pOn.batchMeanMs.toFixed(2)} ms`,
  );
  return { rows, notes, preTrade: { off: pOff, on: pOn } };
}

await main();
