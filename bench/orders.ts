// npm run bench:orders — orders/s and latency over HTTP to 1 and to 10 series, against a bare
// NestJS endpoint doing one SELECT 1 on the same Postgres, same client loop, same run.
// Knobs: BENCH_REPS, BENCH_SECONDS, BENCH_PROFILE=1 (API+worker under --cpu-prof, /tmp/prof),
// BENCH_FEE_FEN (fee per contract; 0 takes the ccp:fees account out of every order).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Pool } from 'undici';
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

const REPS = Number(process.env.BENCH_REPS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32);
const HOUR = 3_600_000;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

interface LoadResult {
  /** Accepted (2xx) responses per second: refusals and errors do not count. */
  perSecond: number;
  sent: number;
  accepted: number;
  /** 4xx other than 429: the system said no (INSUFFICIENT_MARGIN, OFF_TICK…). */
  refused: number;
  /** 5xx, 429 and requests that got no answer. */
  errors: number;
  p50: number;
  p99: number;
  peakRssMiB: number;
  startedAt: string;
}

type Send = (client: number, i: number) => { path: string; method: 'GET' | 'POST'; key?: string; body?: unknown };

/**
 * K clients, each sending its next request as soon as the last answered, for `seconds`. The
 * clients share this process's CPUs with the servers, so they use undici's pooled `request`
 * (a fraction of `fetch`'s cost per request), the same way for the system and the reference.
 */
async function load(base: string, seconds: number, clients: number, send: Send, serverPid: number): Promise<LoadResult> {
  const pool = new Pool(base, { connections: clients, pipelining: 1 });
  const latencies: number[] = [];
  let [accepted, refused, errors] = [0, 0, 0];
  const rss = rssPeak(serverPid);
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; performance.now() < end; i++) {
        const r = send(c, i);
        const s0 = performance.now();
        try {
          const res = await pool.request({
            path: r.path,
            method: r.method,
            headers: r.key ? { authorization: `Bearer ${r.key}`, 'content-type': 'application/json' } : {},
            body: r.body === undefined ? undefined : JSON.stringify(r.body),
          });
          await res.body.dump();
          if (res.statusCode < 300) accepted++;
          else if (res.statusCode >= 500 || res.statusCode === 429) errors++;
          else refused++;
        } catch {
          errors++;
        }
        latencies.push(performance.now() - s0);
      }
    }),
  );
  // The last requests may answer after the deadline: divide by the time actually taken.
  const elapsed = (performance.now() - t0) / 1000;
  const peakRssMiB = await rss.stop();
  await pool.close();
  latencies.sort((a, b) => a - b);
  return {
    perSecond: accepted / elapsed,
    sent: latencies.length,
    accepted,
    refused,
    errors,
    p50: latencies[Math.floor(latencies.length * 0.5)],
    p99: latencies[Math.floor(latencies.length * 0.99)],
    peakRssMiB,
    startedAt,
  };
}

async function main(): Promise<void> {
  if (!existsSync('dist/main.js')) throw new Error('run `npm run build` first (npm run bench:orders does)');
  const db = await scratchDatabase(true);
  const key = `tck_bench_${randomBytes(20).toString('hex')}`;
  const [apiPort, refPort] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${apiPort}`;
  const refBase = `http://127.0.0.1:${refPort}`;
  progress('starting the API (dist/main.js) and the reference server');
  // BENCH_PROFILE=1 runs the API+worker with --cpu-prof (profiles in /tmp/prof).
  const app = await startServer(
    process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof', 'dist/main.js'] : ['dist/main.js'],
    {
      DATABASE_URL: db.url,
      REDIS_URL,
      PORT: String(apiPort),
      HOST: '127.0.0.1',
      BOOTSTRAP_CLEARING_KEY: key,
      LOG_LEVEL: 'error',
      NODE_ENV: 'production',
      QUEUE_PREFIX: `{bench${randomBytes(3).toString('hex')}}`,
    },
    `${base}/health/ready`,
  );
  const ref = await startServer(
    ['--import', 'tsx', 'bench/reference-server.ts'],
    { DATABASE_URL: db.url, PORT: String(refPort) },
    `${refBase}/ping`,
  );

  try {
    const api = (path: string, body: unknown, k = key) =>
      fetch(base + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    progress(`setting up ${CLIENTS} members, 1 + 10 series`);
    const traders: string[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const m = (await (await api('/v1/members', { name: `bench-${i}`, kind: 'TRADER' })).json()) as { id: string };
      await api(`/v1/members/${m.id}/deposits`, { amount: '100000000.00', currency: 'CNY', reference: `B${i}` });
      traders.push(((await (await api(`/v1/members/${m.id}/api-keys`, { role: 'trader' })).json()) as { key: string }).key);
    }
    await api('/v1/products', {
      code: 'BENCH',
      modelClass: 'llm-70b-instruct',
      contractSizeTokens: 10_000_000,
      tickFen: 1,
      settlementType: 'CASH',
      initialMarginBp: 1000,
      maintenanceMarginBp: 500,
      feePerContractFen: Number(process.env.BENCH_FEE_FEN ?? 1),
      penaltyBp: 0,
      maxTtftMs: 1000,
      minTokensPerSecond: 1,
      regions: ['cn-east-1'],
      inputTokenWeightBp: 0,
    });
    const series = Array.from({ length: 11 }, (_, i) => `BENCH-S${i}`);
    for (const code of series) {
      await api('/v1/series', {
        productCode: 'BENCH',
        code,
        lastTradingAt: new Date(Date.now() + 48 * HOUR).toISOString(),
        deliveryStart: new Date(Date.now() + 49 * HOUR).toISOString(),
        deliveryEnd: new Date(Date.now() + 50 * HOUR).toISOString(),
        referencePrice: '4.00',
      });
    }
    let n = 0;
    const orderTo =
      (codes: string[]): Send =>
      (c, i) => {
        n++;
        const fen = 395 + ((c * 7 + i * 13) % 11);
        const body = {
          series: codes[(c + i) % codes.length],
          side: (c + i) % 2 ? 'BUY' : 'SELL',
          price: `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`,
          quantity: 1 + (i % 5),
          timeInForce: i % 4 ? 'GTC' : 'IOC',
        };
        return { path: '/v1/orders', method: 'POST', key: traders[c], body };
      };
    const samples: Record<'ping' | 'one' | 'ten', LoadResult[]> = { ping: [], one: [], ten: [] };
    const { commit } = await rowStart();
    for (let rep = 1; rep <= REPS; rep++) {
      progress(`rep ${rep}/${REPS}: reference (SELECT 1)`);
      samples.ping.push(await load(refBase, SECONDS, CLIENTS, () => ({ path: '/ping', method: 'GET' }), ref.pid!));
      progress(`rep ${rep}/${REPS}: orders to 1 series`);
      samples.one.push(await load(base, SECONDS, CLIENTS, orderTo([series[0]]), app.pid!));
      progress(`rep ${rep}/${REPS}: orders to 10 series`);
      samples.ten.push(await load(base, SECONDS, CLIENTS, orderTo(series.slice(1)), app.pid!));
      for (const k of ['ping', 'one', 'ten'] as const) {
        const s = samples[k].at(-1)!;
        progress(
          `  ${k}: ${s.accepted}/${s.sent} accepted, ${s.refused} refused, ${s.errors} errors, ${s.perSecond.toFixed(0)}/s accepted`,
        );
      }
    }
    type Num = Exclude<keyof LoadResult, 'startedAt'>;
    const m = (k: keyof typeof samples, f: Num) => median(samples[k].map((s) => s[f]));
    const sum = (k: keyof typeof samples, f: Num) => samples[k].reduce((a, s) => a + s[f], 0);
    const pct = (x: number, of: number) => (of === 0 ? 0 : (100 * x) / of);
    const ping = m('ping', 'perSecond');
    // The reference must answer too: a reference that errored would make every ratio flatter.
    const pingErrors = pct(sum('ping', 'errors') + sum('ping', 'refused'), sum('ping', 'sent'));
    const row = (k: 'one' | 'ten', label: string, goal: string, goalMet: (errPct: number) => string[]): Figure => {
      const errPct = pct(sum(k, 'errors'), sum(k, 'sent'));
      const refPct = pct(sum(k, 'refused'), sum(k, 'sent'));
      const reasons = [...goalMet(errPct), ...(pingErrors > 1 ? [`reference failed ${pingErrors.toFixed(1)} % of its requests`] : [])];
      return {
        scenario: `orders over HTTP, ${label} (${CLIENTS} clients)`,
        figure: `accepted orders/s (p50 ${m(k, 'p50').toFixed(1)} ms, p99 ${m(k, 'p99').toFixed(1)} ms; refused ${refPct.toFixed(2)} %, errors ${errPct.toFixed(2)} %)`,
        value: m(k, 'perSecond'),
        reference: 'NestJS SELECT 1 req/s',
        referenceValue: ping,
        ratio: m(k, 'perSecond') / ping,
        goal,
        met: reasons.length === 0,
        ...(reasons.length ? { failReason: reasons.join('; ') } : {}),
        startedAt: samples[k][0].startedAt,
        commit,
        peakRssMiB: Math.max(...samples[k].map((s) => s.peakRssMiB)),
        rssOf: 'API+worker process (dist/main.js)',
      };
    };
    const errorRule = (errPct: number) => (errPct > 1 ? [`errors ${errPct.toFixed(2)} % > 1 %: run failed`] : []);
    const figures: Figure[] = [
      row('one', '1 series', 'report (errors ≤ 1 %)', errorRule),
      row('ten', '10 series', '≥ 2,000 accepted/s, p99 < 50 ms, ≥ 0.6× SELECT 1, errors ≤ 1 %', (errPct) => [
        ...errorRule(errPct),
        ...(m('ten', 'perSecond') < 2000 ? [`${m('ten', 'perSecond').toFixed(0)} accepted/s < 2,000`] : []),
        ...(m('ten', 'p99') >= 50 ? [`p99 ${m('ten', 'p99').toFixed(1)} ms ≥ 50 ms`] : []),
        ...(m('ten', 'perSecond') / ping < 0.6 ? [`${(m('ten', 'perSecond') / ping).toFixed(2)}× < 0.6× SELECT 1`] : []),
      ]),
    ];
    printTable(figures);
    const counts = Object.fromEntries(
      (['ping', 'one', 'ten'] as const).map((k) => [
        k,
        { sent: sum(k, 'sent'), accepted: sum(k, 'accepted'), refused: sum(k, 'refused'), errors: sum(k, 'errors') },
      ]),
    );
    console.log(`counts over all repetitions: ${JSON.stringify(counts)}; orders built: ${n}`);
    await writeResults('orders', {
      machine: await machine(db.url),
      figures,
      counts,
      notes: [
        `${REPS} interleaved repetitions of ${SECONDS} s, medians; the API+worker (dist/main.js) and the reference server each in its own process; ${CLIENTS} clients in the bench process (undici Pool.request, keep-alive)`,
        'only accepted (2xx) orders count toward orders/s; refused = 4xx answers other than 429, errors = 5xx, 429 and requests with no answer; p50/p99 over every request; a row with more than 1 % errors is failed',
        `counts (sent/accepted/refused/errors over all repetitions): 1 series ${counts.one.sent}/${counts.one.accepted}/${counts.one.refused}/${counts.one.errors}, 10 series ${counts.ten.sent}/${counts.ten.accepted}/${counts.ten.refused}/${counts.ten.errors}, SELECT 1 ${counts.ping.sent}/${counts.ping.accepted}/${counts.ping.refused}/${counts.ping.errors}`,
        `reference p50 ${m('ping', 'p50').toFixed(1)} ms, p99 ${m('ping', 'p99').toFixed(1)} ms, peak RSS ${Math.max(...samples.ping.map((s) => s.peakRssMiB)).toFixed(0)} MiB`,
      ],
    });
  } finally {
    app.kill('SIGTERM');
    ref.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1_000));
    await db.drop();
  }
}

await main();
