// bench:delivery's references: raw BullMQ on the same Redis, with the system's shape (batched,
// like for like) and the old one-add-per-call shape, each timed like the system.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { CHUNK } from '../src/delivery/node-queues.js';

/** The system's shape the references copy: its agents, clients, batch per request, concurrency. */
export interface Shape {
  agents: number;
  submitters: number;
  perRequest: number;
  agentConcurrency: number;
  pollMs: number;
  redisUrl: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One reference worker process (bench/raw-worker.ts), ready when it says so. */
async function startRawWorker(shape: Shape, prefix: string, queue: string, concurrency: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/raw-worker.ts', shape.redisUrl, prefix, queue, String(concurrency)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`raw worker exited with ${code}`)));
  });
  return child;
}

/**
 * The like-for-like reference: shape.submitters clients each adding shape.perRequest jobs per call with
 * addBulk, CHUNK jobs per entry, spread over shape.agents queues (one per node, as the system has), each
 * drained by its own no-op worker process taking shape.agentConcurrency jobs at once (in entries).
 * Timed like the system: from the first add sent to the poll that sees every entry finished.
 */
export async function rawBullmqBatched(shape: Shape, n: number): Promise<number> {
  const u = new URL(shape.redisUrl);
  const connection = { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null };
  const prefix = '{benchraw}';
  const name = `bench-rawb-${randomBytes(4).toString('hex')}`;
  const queues = Array.from({ length: shape.agents }, (_, i) => new Queue(`${name}-${i}`, { connection, prefix }));
  const perWorker = Math.max(1, Math.ceil(shape.agentConcurrency / CHUNK));
  const workers = await Promise.all(queues.map((q) => startRawWorker(shape, prefix, q.name, perWorker)));
  try {
    const entries = countEntries(shape, n);
    let next = 0;
    let batchNo = 0;
    const t0 = performance.now();
    const submitting = Promise.all(
      Array.from({ length: shape.submitters }, async () => {
        while (next < n) {
          const first = next;
          const size = Math.min(shape.perRequest, n - first);
          next += size;
          const queue = queues[batchNo++ % shape.agents];
          const bulk = [];
          for (let i = 0; i < size; i += CHUNK) {
            const jobs = Array.from({ length: Math.min(CHUNK, size - i) }, (_, k) => ({ i: first + i + k }));
            bulk.push({ name: 'deliver', data: { jobs }, opts: { removeOnComplete: false } });
          }
          await queue.addBulk(bulk);
        }
      }),
    );
    // A failed add must end the wait, not leave the poll spinning.
    let submitError: unknown;
    submitting.catch((err: unknown) => (submitError = err));
    let seen = 0;
    while (seen < entries) {
      await sleep(shape.pollMs);
      if (submitError) throw submitError;
      const counts = await Promise.all(queues.map((q) => q.getJobCounts('completed', 'failed')));
      seen = counts.reduce((a, c) => a + (c.completed ?? 0) + (c.failed ?? 0), 0);
    }
    const s = (performance.now() - t0) / 1000;
    await submitting;
    const failed = (await Promise.all(queues.map((q) => q.getFailedCount()))).reduce((a, b) => a + b, 0);
    if (failed > 0) throw new Error(`${failed} reference entries failed`);
    return n / s;
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once('exit', r)))));
    for (const q of queues) {
      await q.obliterate({ force: true });
      await q.close();
    }
  }
}

/** Entries the batched reference adds for n jobs: each batch cut in CHUNKs, as the dispatcher cuts them. */
function countEntries(shape: Shape, n: number): number {
  let entries = 0;
  for (let first = 0; first < n; first += shape.perRequest) entries += Math.ceil(Math.min(shape.perRequest, n - first) / CHUNK);
  return entries;
}

/** The old reference (kept as a labelled second row): add one job per call, one in-process worker of concurrency 16, timed from the client's start to the worker's last 'completed' event. */
export async function rawBullmqPerJob(shape: Shape, n: number): Promise<number> {
  const u = new URL(shape.redisUrl);
  const connection = { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null };
  const name = `bench-raw-${randomBytes(4).toString('hex')}`;
  const queue = new Queue(name, { connection, prefix: '{benchraw}' });
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const worker = new Worker(name, async () => undefined, { connection, prefix: '{benchraw}', concurrency: 16 });
  worker.on('completed', () => {
    if (++done === n) finish();
  });
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: shape.submitters }, async () => {
      while (next < n) {
        next++;
        await queue.add('noop', { i: next }, { removeOnComplete: true });
      }
    }),
  );
  await finished;
  const rate = n / ((performance.now() - t0) / 1000);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return rate;
}
