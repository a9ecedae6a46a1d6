// npm run bench:stream — /v1/stream under load: SUBSCRIBERS WebSocket clients on one API process
// subscribed to the trade tape, while CLIENTS traders place crossing orders over HTTP as the
// orders bench does (its prices and sizes, 10 series, buyers and sellers on each). Measures, per delivered trade
// message, the time from the trade (its createdAt: the matching clock, before COMMIT) to its
// receipt by each subscriber (p50/p99), the subscribers the server dropped (1013, slow consumer)
// and seq gaps. Reference: the p99 of the orders' own HTTP answers in the same run.
// Knobs: BENCH_SUBSCRIBERS (1000), BENCH_SECONDS (5), BENCH_CLIENTS (32).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Pool } from 'undici';
import WebSocket from 'ws';
import { benchProductTerms, fundedTraders, poster } from './orders-market.js';
import {
  freePort,
  machine,
  printTable,
  progress,
  rowStart,
  rssPeak,
  scratchDatabase,
  startServer,
  writeResults,
  type Figure,
} from './lib.js';

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? (process.env.BENCH_SMOKE === '1' ? 200 : 1000));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32);
const HOUR = 3_600_000;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Latency samples kept at most (every subscriber's every trade, up to this). */
const MAX_SAMPLES = 4_000_000;

interface Subscriber {
  ws: WebSocket;
  seq: number;
  gaps: number;
  received: number;
  closedCode?: number;
}

const pct = (sorted: Float64Array, p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : NaN);

async function main(): Promise<void> {
  if (!existsSync('dist/main.js')) throw new Error('run `npm run build` first (npm run bench:stream does)');
  const db = await scratchDatabase(true);
  const key = `tck_bench_${randomBytes(20).toString('hex')}`;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  progress('starting the API (dist/main.js)');
  const app = await startServer(
    ['dist/main.js'],
    {
      DATABASE_URL: db.url,
      REDIS_URL,
      PORT: String(port),
      HOST: '127.0.0.1',
      BOOTSTRAP_CLEARING_KEY: key,
      LOG_LEVEL: 'error',
      NODE_ENV: 'production',
      // Production requires it (the verification sample's key); every copy shares it.
      VERIFICATION_SAMPLING_KEY: randomBytes(32).toString('hex'),
      QUEUE_PREFIX: `{bench${randomBytes(3).toString('hex')}}`,
    },
    `${base}/health/ready`,
  );
  const subs: Subscriber[] = [];
  try {
    const api = poster(base, key);
    progress(`setting up ${CLIENTS} members and 10 series`);
    const traders = await fundedTraders(api, CLIENTS);
    await api('/v1/products', { code: 'BENCH', ...benchProductTerms(1) });
    const series = Array.from({ length: 10 }, (_, i) => `BENCH-S${i}`);
    for (const code of series)
      await api('/v1/series', {
        productCode: 'BENCH',
        code,
        lastTradingAt: new Date(Date.now() + 48 * HOUR).toISOString(),
        deliveryStart: new Date(Date.now() + 49 * HOUR).toISOString(),
        deliveryEnd: new Date(Date.now() + 50 * HOUR).toISOString(),
        referencePrice: '4.00',
      });

    progress(`connecting ${SUBSCRIBERS} subscribers to the trade tape`);
    const latencies = new Float64Array(MAX_SAMPLES);
    let samples = 0;
    let ready = 0;
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/stream`);
      const sub: Subscriber = { ws, seq: 0, gaps: 0, received: 0 };
      subs.push(sub);
      ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', channel: 'trades' })));
      ws.on('message', (raw) => {
        const now = Date.now();
        const m = JSON.parse((raw as Buffer).toString('utf8')) as { type: string; seq: number; data: { createdAt?: string } };
        if (m.type === 'snapshot') {
          sub.seq = m.seq;
          ready++;
          return;
        }
        if (m.type !== 'event') return;
        if (m.seq !== sub.seq + 1) sub.gaps++;
        sub.seq = m.seq;
        sub.received++;
        if (samples < MAX_SAMPLES && m.data.createdAt) latencies[samples++] = now - Date.parse(m.data.createdAt);
      });
      ws.on('close', (code) => (sub.closedCode = code));
      ws.on('error', () => undefined);
      // Connect in small bursts: 1,000 upgrades at once would measure the accept queue.
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20));
    }
    const deadline = Date.now() + 30_000;
    while (ready < SUBSCRIBERS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (ready < SUBSCRIBERS) throw new Error(`only ${ready} of ${SUBSCRIBERS} subscribers got their snapshot`);

    progress(`${CLIENTS} clients placing orders for ${SECONDS} s`);
    const { commit, startedAt } = await rowStart();
    const rss = rssPeak(app.pid!);
    const pool = new Pool(base, { connections: CLIENTS, pipelining: 1 });
    const orderLatencies: number[] = [];
    let [accepted, failed, trades] = [0, 0, 0];
    const t0 = performance.now();
    const end = t0 + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        for (let i = 0; performance.now() < end; i++) {
          const fen = 395 + ((c * 7 + i * 13) % 11);
          // The orders bench's prices and sizes; buyers and sellers meet on every series (the
          // orders bench's (c + i) parity would give each of its 10 series one side only).
          const body = {
            series: series[i % series.length],
            side: c % 2 ? 'BUY' : 'SELL',
            price: `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`,
            quantity: 1 + (i % 5),
            timeInForce: i % 4 ? 'GTC' : 'IOC',
          };
          const s0 = performance.now();
          try {
            const res = await pool.request({
              path: '/v1/orders',
              method: 'POST',
              headers: { authorization: `Bearer ${traders[c]}`, 'content-type': 'application/json' },
              body: JSON.stringify(body),
            });
            const answer = (await res.body.json()) as { trades?: unknown[] };
            if (res.statusCode < 300) {
              accepted++;
              trades += answer.trades?.length ?? 0;
            } else failed++;
          } catch {
            failed++;
          }
          orderLatencies.push(performance.now() - s0);
        }
      }),
    );
    const elapsed = (performance.now() - t0) / 1000;
    // Let the tail of the tape arrive.
    const settle = Date.now() + 10_000;
    const live = () => subs.filter((s) => s.closedCode === undefined);
    while (Date.now() < settle && live().some((s) => s.received < trades)) await new Promise((r) => setTimeout(r, 100));
    const peakRssMiB = await rss.stop();
    await pool.close();

    const dropped = subs.filter((s) => s.closedCode !== undefined).length;
    const gaps = subs.reduce((n, s) => n + s.gaps, 0);
    const short = live().filter((s) => s.received < trades).length;
    const sorted = latencies.slice(0, samples).sort();
    orderLatencies.sort((a, b) => a - b);
    const orderP99 = orderLatencies[Math.floor(orderLatencies.length * 0.99)] ?? NaN;
    const p50 = pct(sorted, 0.5);
    const p99 = pct(sorted, 0.99);
    const reasons = [
      ...(dropped > 0 ? [`${dropped} subscribers dropped`] : []),
      ...(gaps > 0 ? [`${gaps} seq gaps`] : []),
      ...(short > 0 ? [`${short} subscribers missed trades`] : []),
    ];
    const figures: Figure[] = [
      {
        scenario: `trade tape to ${SUBSCRIBERS} subscribers on one API process, orders over HTTP (${CLIENTS} clients, 10 series)`,
        figure: `ms p99 trade-to-receipt (p50 ${p50.toFixed(1)} ms; ${(trades / elapsed).toFixed(0)} trades/s, ${(accepted / elapsed).toFixed(0)} orders/s; ${samples} deliveries; dropped ${dropped}, gaps ${gaps})`,
        value: p99,
        reference: 'orders HTTP p99 ms, same run',
        referenceValue: orderP99,
        ratio: p99 / orderP99,
        goal: 'no subscriber dropped, no gap, every trade delivered; report p99',
        met: reasons.length === 0,
        ...(reasons.length ? { failReason: reasons.join('; ') } : {}),
        startedAt,
        commit,
        peakRssMiB,
        rssOf: 'API+worker process (dist/main.js)',
      },
    ];
    printTable(figures);
    await writeResults('stream', {
      machine: await machine(db.url),
      figures,
      counts: { subscribers: SUBSCRIBERS, orders: accepted, failedOrders: failed, trades, deliveries: samples, dropped, gaps, short },
      notes: [
        `${SECONDS} s of orders; the subscribers and the order clients share the bench process (ws package), the API+worker is dist/main.js; latency = receipt time − the trade's createdAt (the matching clock, before COMMIT), so it includes the commit, the read-back of the touched levels, Redis pub/sub and the fan-out`,
      ],
    });
  } finally {
    for (const s of subs) s.ws.terminate();
    app.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1_000));
    await db.drop();
  }
}

await main();
