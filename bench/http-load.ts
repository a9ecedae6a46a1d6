// The closed-loop HTTP load of bench:orders: K clients, each sending its next request as soon as
// the last answered, spread round-robin over one or more copies of a server.
import { Pool } from 'undici';
import { rssPeak } from './lib.js';

export interface LoadResult {
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
  /** Largest peak RSS among the servers' processes. */
  peakRssMiB: number;
  elapsedSeconds: number;
  startedAt: string;
}

export type Send = (client: number, i: number) => { path: string; method: 'GET' | 'POST'; key?: string; body?: unknown };

/**
 * Client c talks to `bases[c % bases.length]` for the whole run (as a client pinned to one
 * replica by a load balancer). The clients share this process's CPUs with the servers, so they use
 * undici's pooled `request` (a fraction of `fetch`'s cost per request), the same way for the
 * system and the reference.
 */
export async function load(bases: string[], seconds: number, clients: number, send: Send, serverPids: number[]): Promise<LoadResult> {
  const pools = bases.map((base, b) => new Pool(base, { connections: Math.ceil((clients - b) / bases.length), pipelining: 1 }));
  const latencies: number[] = [];
  let [accepted, refused, errors] = [0, 0, 0];
  const rss = serverPids.map((pid) => rssPeak(pid));
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const pool = pools[c % pools.length];
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
  const elapsedSeconds = (performance.now() - t0) / 1000;
  const peaks = await Promise.all(rss.map((r) => r.stop()));
  await Promise.all(pools.map((p) => p.close()));
  latencies.sort((a, b) => a - b);
  return {
    perSecond: accepted / elapsedSeconds,
    sent: latencies.length,
    accepted,
    refused,
    errors,
    p50: latencies[Math.floor(latencies.length * 0.5)],
    p99: latencies[Math.floor(latencies.length * 0.99)],
    peakRssMiB: Math.max(...peaks),
    elapsedSeconds,
    startedAt,
  };
}
