// npm run bench:orders — orders/s and latency over HTTP to 1 and to 10 series, against a bare
// NestJS endpoint doing one SELECT 1 on the same Postgres, same client loop, same run.
// Knobs: BENCH_REPS, BENCH_SECONDS, BENCH_PROFILE=1 (API+worker under --cpu-prof, /tmp/prof),
// BENCH_FEE_FEN (fee per contract; 0 takes the ccp:fees account out of every order).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Pool } from 'undici';
import { freePort, machine, median, printTable, progress, scratchDatabase, startServer, writeResults, type Figure } from './lib.js';

const REPS = Number(process.env.BENCH_REPS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32);
const HOUR = 3_600_000;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

interface LoadResult {
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

type Send = (client: number, i: number) => { path: string; method: 'GET' | 'POST'; key?: string; body?: unknown };

/**
 * K clients, each sending its next request as soon as the last answered, for `seconds`. The
 * clients share this process's CPUs with the servers, so they use undici's pooled `request`
 * (a fraction of `fetch`'s cost per request), the same way for the system and the reference.
 */
async function load(base: string, seconds: number, clients: number, send: Send): Promise<LoadResult> {
  const pool = new Pool(base, { connections: clients, pipelining: 1 });
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; performance.now() < end; i++) {
        const r = send(c, i);
        const t0 = performance.now();
        const res = await pool.request({
          path: r.path,
          method: r.method,
          headers: r.key ? { authorization: `Bearer ${r.key}`, 'content-type': 'application/json' } : {},
          body: r.body === undefined ? undefined : JSON.stringify(r.body),
        });
        await res.body.dump();
        latencies.push(performance.now() - t0);
        if (res.statusCode >= 300) errors++;
      }
    }),
  );
  await pool.close();
  latencies.sort((a, b) => a - b);
  return {
    perSecond: latencies.length / seconds,
    p50: latencies[Math.floor(latencies.length * 0.5)],
    p99: latencies[Math.floor(latencies.length * 0.99)],
    errors,
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
    const samples: Record<string, LoadResult[]> = { ping: [], one: [], ten: [] };
    for (let rep = 1; rep <= REPS; rep++) {
      progress(`rep ${rep}/${REPS}: reference (SELECT 1)`);
      samples.ping.push(await load(refBase, SECONDS, CLIENTS, () => ({ path: '/ping', method: 'GET' })));
      progress(`rep ${rep}/${REPS}: orders to 1 series`);
      samples.one.push(await load(base, SECONDS, CLIENTS, orderTo([series[0]])));
      progress(`rep ${rep}/${REPS}: orders to 10 series`);
      samples.ten.push(await load(base, SECONDS, CLIENTS, orderTo(series.slice(1))));
    }
    const m = (k: string, f: keyof LoadResult) => median(samples[k].map((s) => s[f]));
    const errors = [...samples.one, ...samples.ten].reduce((e, s) => e + s.errors, 0);
    const figures: Figure[] = [
      {
        scenario: `orders over HTTP, 1 series (${CLIENTS} clients)`,
        figure: `orders/s (p50 ${m('one', 'p50').toFixed(1)} ms, p99 ${m('one', 'p99').toFixed(1)} ms)`,
        value: m('one', 'perSecond'),
        reference: 'NestJS SELECT 1 req/s',
        referenceValue: m('ping', 'perSecond'),
        ratio: m('one', 'perSecond') / m('ping', 'perSecond'),
        goal: 'report',
        met: true,
      },
      {
        scenario: `orders over HTTP, 10 series (${CLIENTS} clients)`,
        figure: `orders/s (p50 ${m('ten', 'p50').toFixed(1)} ms, p99 ${m('ten', 'p99').toFixed(1)} ms)`,
        value: m('ten', 'perSecond'),
        reference: 'NestJS SELECT 1 req/s',
        referenceValue: m('ping', 'perSecond'),
        ratio: m('ten', 'perSecond') / m('ping', 'perSecond'),
        goal: '≥ 1000 orders/s, p99 < 50 ms',
        met: m('ten', 'perSecond') >= 1000 && m('ten', 'p99') < 50,
      },
    ];
    printTable(figures);
    console.log(`requests answered ≥ 300 (rejections such as INSUFFICIENT_MARGIN): ${errors}; orders sent: ${n}`);
    await writeResults('orders', {
      machine: await machine(db.url),
      figures,
      notes: [
        `${REPS} interleaved repetitions of ${SECONDS} s, medians; the API+worker (dist/main.js) and the reference server each in its own process; ${CLIENTS} clients in the bench process (undici Pool.request, keep-alive)`,
        `reference p50 ${m('ping', 'p50').toFixed(1)} ms, p99 ${m('ping', 'p99').toFixed(1)} ms`,
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
