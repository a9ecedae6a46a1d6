// npm run bench:delivery — N delivery jobs drained through the full path (submit over HTTP →
// outbox → dispatch worker → node queue → HTTP lease by M real agent processes (--simulate, instant)
// → HTTP completion → metering + escrow release), against raw BullMQ on the same Redis, measured
// in the same run. The like-for-like reference has the system's shape: the same clients adding
// the same batches with addBulk, CHUNK jobs per queue entry, one queue per agent, drained by one
// no-op worker process per agent with the agents' concurrency. Both are timed from the bench's
// side: from the first submission sent to the poll that first sees every job finished. Each
// repetition drains on 1 and on 2 API copies (BENCH_COPIES, issue 27) against the same reference.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { simulatedOutput } from '../src/agent/inference/simulated.js';
import { countCompletionTokens, countPromptTokens } from '../src/delivery/counting/chat-template.js';
import { CountingPool } from '../src/delivery/counting/counting-pool.js';
import { loadTokenizer, tokenizerFor } from '../src/delivery/counting/tokenizers.js';
import { CHUNK } from '../src/delivery/node-queues.js';
import { copiesList, cpuOf, startCopies, stopProcess } from './copies.js';
import { rawBullmqBatched, rawBullmqPerJob, type Shape } from './delivery-reference.js';
import {
  freePort,
  machine,
  median,
  printTable,
  postgresPids,
  progress,
  rowStart,
  rssPeak,
  scratchDatabase,
  startServer,
  writeResults,
  type Figure,
} from './lib.js';

const JOBS = Number(process.env.BENCH_JOBS ?? 8_000);
const AGENTS = Number(process.env.BENCH_AGENTS ?? 4);
const SUBMITTERS = Number(process.env.BENCH_SUBMITTERS ?? 16);
// Jobs per submission request (POST /v1/delivery/jobs/batch); 1 uses POST /v1/delivery/jobs.
const PER_REQUEST = Number(process.env.BENCH_SUBMIT_BATCH ?? 50);
const REPS = Number(process.env.BENCH_REPS ?? 3);
// One agent per node; operators share the nodes; each buyer holds its own obligations.
const OPERATORS = Number(process.env.BENCH_OPERATORS ?? 1);
const BUYERS = Number(process.env.BENCH_BUYERS ?? 1);
// BENCH_PROFILE=1 runs the server and the agents with --cpu-prof (profiles in /tmp/prof and /tmp/prof-agents).
// BENCH_SERVER_LOG=file keeps the servers' logs, at BENCH_LOG_LEVEL (default error).
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// The service as N identical processes (API + worker each, like N replicas behind a load
// balancer), for each N of BENCH_COPIES (default 1,2) in every repetition: agents and submitting
// clients are spread over them.
const COPIES = copiesList();
// BENCH_WORKERS=N: the API processes run the API role only and N worker-role processes run the
// outbox relay, dispatch and the other queue workers (SPEC §5's split). 1 by default: the service
// as docker-compose.yml and deploy/k8s run it. Each repetition then also drains once on one
// process running both roles (the shape `npm start` runs, and this bench's default before), as
// its own row; BENCH_WORKERS=0 measures that shape only.
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
/** A phase's shape: `copies` API processes (with the worker processes), or one process running both roles. */
interface Variant {
  copies: number;
  allInOne: boolean;
}
const VARIANTS: Variant[] = [
  ...COPIES.map((copies) => ({ copies, allInOne: false })),
  ...(WORKERS > 0 ? [{ copies: 1, allInOne: true }] : []),
];
const variantKey = (v: Variant) => (v.allInOne ? 'all' : String(v.copies));
// Jobs each agent runs at once (agent --concurrency); the reference workers get the same in total.
const AGENT_CONCURRENCY = Number(process.env.BENCH_AGENT_CONCURRENCY ?? 256);
// How often the bench polls for completion (system: a count in Postgres; reference: BullMQ's counts).
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 50);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SHAPE: Shape = {
  agents: AGENTS,
  submitters: SUBMITTERS,
  perRequest: PER_REQUEST,
  agentConcurrency: AGENT_CONCURRENCY,
  pollMs: POLL_MS,
  redisUrl: REDIS_URL,
};

/** One repetition's drain at one count of copies. */
interface Phase {
  rate: number;
  serverSpanRate: number;
  latencies: number[];
  peakRssMiB: number;
  /** CPU of all the API processes together per job, µs. */
  cpuPerJobUs: number;
  /** Cores each API process used over the drain. */
  cores: number[];
  /** CPU of the worker-role processes per job, µs (0 when the API processes run both roles). */
  workerCpuPerJobUs: number;
  /** The agent processes' CPU over the drain, per job. */
  agentCpuPerJobUs: number;
  /** Postgres's CPU over the drain (all its processes), per job. */
  postgresCpuPerJobUs: number;
  failed: number;
}

/** One agent per node, each talking to copy i mod N, as the first copy's own agents did before. */
/** An agent process, with the tail of what it wrote to stderr. */
type Agent = ChildProcess & { said: () => string };

function spawnAgents(nodes: { id: string; nodeToken: string }[], bases: string[]): Agent[] {
  return nodes
    .map((n, i) =>
      spawn(
        process.execPath,
        [
          ...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof-agents'] : []),
          'dist/agent/main.js',
          '--api',
          bases[i % bases.length],
          '--node',
          n.id,
          '--simulate',
          '--rate',
          '0',
          '--concurrency',
          String(AGENT_CONCURRENCY),
          '--lease-wait',
          '2',
          '--heartbeat-ms',
          '2000',
        ],
        { env: { ...process.env, TOKENCLEAR_NODE_TOKEN: n.nodeToken }, stdio: ['ignore', 'ignore', 'pipe'] },
      ),
    )
    .map((child) => {
      // Its last words, for the drain to report should it die (it refuses an unsupported Node.js
      // with a message, and the drain would otherwise wait for jobs nobody leases).
      let said = '';
      child.stderr!.on('data', (d: Buffer) => (said = (said + d.toString()).slice(-2_000)));
      return Object.assign(child, { said: () => said });
    });
}

/** An agent that exited while the drain still needs it: the bench fails now, with what it said. */
function assertAgentsAlive(agents: Agent[]): void {
  const dead = agents.find((a) => a.exitCode !== null || a.signalCode !== null);
  if (dead) throw new Error(`an agent exited (${dead.exitCode ?? dead.signalCode}) during the drain: ${dead.said()}`);
}

/** A worker-role process (no HTTP): ready when it says its workers run. */
async function startWorker(args: string[], env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      seen += chunk.toString();
      if (seen.includes('worker role running')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
  return child;
}

type Api = <T>(method: string, path: string, body?: unknown, key?: string) => Promise<T>;

function client(base: string, defaultKey: string): Api {
  return async <T>(method: string, path: string, body?: unknown, key = defaultKey): Promise<T> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${text}`);
    return JSON.parse(text) as T;
  };
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function main(): Promise<void> {
  const db = await scratchDatabase(true);
  const client0 = new pg.Client({ connectionString: db.url });
  await client0.connect();
  let agents: Agent[] = [];
  let server: ChildProcess | undefined;
  const replicas: ChildProcess[] = [];
  let workers: ChildProcess[] = [];
  try {
    const key = `tck_bench_${randomBytes(20).toString('hex')}`;
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const serverEnv = {
      DATABASE_URL: db.url,
      REDIS_URL,
      PORT: String(port),
      HOST: '127.0.0.1',
      BOOTSTRAP_CLEARING_KEY: key,
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'error',
      QUEUE_PREFIX: `{bdel${randomBytes(3).toString('hex')}}`,
      THROTTLE_LIMIT: '10000000',
    };
    const nodeArgs = process.env.BENCH_PROFILE
      ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof', 'dist/main.js']
      : ['--max-semi-space-size=64', 'dist/main.js'];
    const apiEnv = WORKERS > 0 ? { ...serverEnv, PROCESS_ROLE: 'api' } : serverEnv;
    server = await startServer(nodeArgs, apiEnv, `${base}/health/ready`);
    const startWorkers = async () => {
      workers = [];
      for (let i = 0; i < WORKERS; i++) workers.push(await startWorker(nodeArgs, { ...serverEnv, PROCESS_ROLE: 'worker', PORT: '0' }));
      replicas.push(...workers);
    };
    await startWorkers();
    const api = client(base, key);
    progress(`setting up: ${OPERATORS} operator(s) with ${AGENTS} nodes, ${BUYERS} buyer(s), a PHYSICAL series expiring in 8 s`);
    const member = async (kind: string) => {
      const m = await api<{ id: string }>('POST', '/v1/members', { name: `${kind}-${randomBytes(3).toString('hex')}`, kind });
      const k = await api<{ key: string }>('POST', `/v1/members/${m.id}/api-keys`, { role: kind.toLowerCase() });
      await api('POST', `/v1/members/${m.id}/deposits`, { amount: '10000000.00', currency: 'CNY', reference: `B-${m.id.slice(0, 8)}` });
      return { id: m.id, key: k.key };
    };
    const ops: { id: string; key: string }[] = [];
    for (let i = 0; i < OPERATORS; i++) ops.push(await member('OPERATOR'));
    const buyers: { id: string; key: string }[] = [];
    for (let i = 0; i < BUYERS; i++) buyers.push(await member('BUYER'));
    const nodes: { id: string; nodeToken: string }[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const op = ops[i % OPERATORS];
      const dc = await api<{ id: string }>('POST', '/v1/datacenters', { name: `dc-${i}`, region: 'cn-east-1' }, op.key);
      const node = await api<{ id: string; nodeToken: string }>(
        'POST',
        '/v1/nodes',
        { dataCenterId: dc.id, gpuModel: 'H800', gpuCount: 8, models: [{ modelClass: 'llm-70b-instruct', tokensPerSecond: 100_000 }] },
        op.key,
      );
      await api('POST', `/v1/nodes/${node.id}/heartbeat`, {}, node.nodeToken);
      nodes.push(node);
    }
    await api('POST', '/v1/products', {
      code: 'BDEL',
      modelClass: 'llm-70b-instruct',
      contractSizeTokens: 1_000_000,
      tickFen: 1,
      settlementType: 'PHYSICAL',
      initialMarginBp: 1000,
      maintenanceMarginBp: 500,
      feePerContractFen: 0,
      penaltyBp: 1000,
      maxTtftMs: 2000,
      minTokensPerSecond: 1,
      regions: ['cn-east-1'],
      inputTokenWeightBp: 2500,
      // As shipped (200 bp) unless BENCH_VERIFICATION_BP says otherwise: with one operator the
      // sampled re-runs have no other operator to go to and wait in dispatch until they expire.
      verificationBp: Number(process.env.BENCH_VERIFICATION_BP ?? 200),
    });
    const now = Date.now();
    const lastTradingAt = new Date(now + 8_000);
    await api('POST', '/v1/series', {
      productCode: 'BDEL',
      code: 'BDEL-1',
      lastTradingAt: lastTradingAt.toISOString(),
      deliveryStart: lastTradingAt.toISOString(),
      deliveryEnd: new Date(now + 3_600_000).toISOString(),
      referencePrice: '4.00',
    });
    for (const [i, buyer] of buyers.entries()) {
      await api(
        'POST',
        '/v1/orders',
        { series: 'BDEL-1', side: 'SELL', price: '4.00', quantity: 10, timeInForce: 'GTC' },
        ops[i % OPERATORS].key,
      );
      await api('POST', '/v1/orders', { series: 'BDEL-1', side: 'BUY', price: '4.00', quantity: 10, timeInForce: 'GTC' }, buyer.key);
    }
    progress('waiting for the scheduled EXPIRY run (delivery allocation)');
    for (;;) {
      const { rows } = await client0.query<{ n: string }>(`SELECT count(*) AS n FROM delivery_obligations WHERE status = 'OPEN'`);
      if (Number(rows[0].n) > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }

    const raws: number[] = [];
    const perJobRaws: number[] = [];
    const phases = new Map<string, Phase[]>(VARIANTS.map((v) => [variantKey(v), []]));
    const started = await rowStart();
    for (let rep = 1; rep <= REPS; rep++) {
      progress(
        `rep ${rep}/${REPS}: like-for-like reference, raw BullMQ addBulk of ${PER_REQUEST} (${CHUNK}/entry), ${AGENTS} worker processes`,
      );
      raws.push(await rawBullmqBatched(SHAPE, JOBS));
      progress(`rep ${rep}/${REPS}: like-for-like raw BullMQ ${raws.at(-1)!.toFixed(0)} jobs/s; old per-job reference`);
      perJobRaws.push(await rawBullmqPerJob(SHAPE, JOBS));
      for (const variant of VARIANTS) {
        const { copies, allInOne } = variant;
        progress(
          `rep ${rep}/${REPS}: per-job raw BullMQ ${perJobRaws.at(-1)!.toFixed(0)} jobs/s; now ${JOBS} delivery jobs from ${SUBMITTERS} clients, ${AGENTS} agents draining, ${allInOne ? '1 process running the API and worker roles' : `${copies} API cop${copies === 1 ? 'y' : 'ies'}${WORKERS > 0 ? ` and ${WORKERS} worker process(es)` : ''}`}`,
        );
        // The extra copies and the agents live for this phase only: a 1-copy phase has no second
        // copy taking queue work. One process running both roles: the worker processes stop for
        // its phase (and the first API process, API role only, gets no traffic).
        if (allInOne) for (const w of workers) await stopProcess(w);
        const extra = allInOne
          ? await startCopies(1, nodeArgs, serverEnv)
          : copies > 1
            ? await startCopies(copies - 1, nodeArgs, apiEnv)
            : { bases: [], processes: [] };
        replicas.push(...extra.processes);
        const bases = allInOne ? extra.bases : [base, ...extra.bases];
        const pids = allInOne ? extra.processes.map((p) => p.pid!) : [server.pid!, ...extra.processes.map((p) => p.pid!)];
        const workerPids = allInOne ? [] : workers.map((w) => w.pid!);
        agents = spawnAgents(nodes, bases);
        await sleep(1_000);
        // A replica in service is warm: a new copy first serves a few unmeasured batches through
        // the whole path (submission, lease, completion), as the first copy did during setup.
        if (copies > 1 || allInOne) {
          const { rows: warmMark } = await client0.query<{ seq: string }>(`SELECT COALESCE(max(seq), 0) AS seq FROM delivery_jobs`);
          const warm = bases.length * 4 * PER_REQUEST;
          for (let b = 0; b < warm / PER_REQUEST; b++) {
            const jobs = Array.from({ length: PER_REQUEST }, (_, k) => ({
              series: 'BDEL-1',
              modelClass: 'llm-70b-instruct',
              messages: [{ role: 'user', content: `warm ${rep}.${b}.${k}` }],
              maxTokens: 16,
            }));
            await client(bases[b % bases.length], buyers[0].key)('POST', '/v1/delivery/jobs/batch', { jobs });
          }
          for (;;) {
            const { rows } = await client0.query<{ n: string }>(
              `SELECT count(*) AS n FROM delivery_jobs WHERE seq > $1 AND status IN ('COMPLETED', 'FAILED')`,
              [warmMark[0].seq],
            );
            if (Number(rows[0].n) >= warm) break;
            await sleep(POLL_MS);
          }
        }
        const { rows: mark } = await client0.query<{ seq: string }>(`SELECT COALESCE(max(seq), 0) AS seq FROM delivery_jobs`);
        const rss = pids.map((pid) => rssPeak(pid));
        const cpu0 = await cpuOf(pids);
        const workerCpu0 = await cpuOf(workerPids);
        // The rest of the machine's work for the same jobs: the agents and Postgres (the processes
        // it has at the start; one that starts or ends during the drain — an autovacuum worker, a
        // new backend — is left out, so this is a floor).
        const agentPids = agents.map((a) => a.pid!);
        const pgPids = await postgresPids();
        const [agentCpu0, pgCpu0] = [await cpuOf(agentPids), await cpuOf(pgPids)];
        const t0 = performance.now();
        let next = 0;
        const job = (i: number) => ({
          series: 'BDEL-1',
          modelClass: 'llm-70b-instruct',
          messages: [{ role: 'user', content: `bench ${rep}.${copies}.${i}` }],
          maxTokens: 16,
        });
        const submitting = Promise.all(
          Array.from({ length: SUBMITTERS }, async (_, c) => {
            const submit = client(bases[c % bases.length], key);
            while (next < JOBS) {
              const first = next;
              const n = Math.min(PER_REQUEST, JOBS - first);
              next += n;
              const key = buyers[Math.floor(first / PER_REQUEST) % BUYERS].key;
              if (PER_REQUEST === 1) {
                await submit('POST', '/v1/delivery/jobs', job(first), key);
                continue;
              }
              const { items } = await submit<{ items: { status: number }[] }>(
                'POST',
                '/v1/delivery/jobs/batch',
                { jobs: Array.from({ length: n }, (_, k) => job(first + k)) },
                key,
              );
              const refused = items.filter((it) => it.status !== 201);
              if (refused.length > 0) throw new Error(`${refused.length} jobs refused: ${JSON.stringify(refused[0])}`);
            }
          }),
        );
        // Completion seen from the bench's side, polled every POLL_MS while the submissions are still
        // going; the clock stops at the poll that first sees every job finished: every submission
        // answered (so every job is in Postgres) and no token still reserved on the series'
        // obligations (a job reserves its tokens until it completes or fails, in the same
        // transaction). That is a read of a few obligation rows; counting the jobs by status, as
        // this poll used to, scanned delivery_jobs every 50 ms: 6 ms of Postgres a poll, taken
        // from the system under test (the reference's poll asks BullMQ for two counters).
        let lastLog = 0;
        let tEnd = 0;
        let allSubmitted = false;
        let submitError: unknown;
        submitting.then(
          () => (allSubmitted = true),
          (err: unknown) => (submitError = err),
        );
        const count = async () => {
          const { rows } = await client0.query<{ done: string; failed: string }>(
            // Buyers' jobs only: verification re-runs are jobs too, and must not count toward them.
            `SELECT count(*) FILTER (WHERE status = 'COMPLETED') AS done, count(*) FILTER (WHERE status = 'FAILED') AS failed FROM delivery_jobs WHERE seq > $1 AND "verifiesJobId" IS NULL`,
            [mark[0].seq],
          );
          return [Number(rows[0].done), Number(rows[0].failed)];
        };
        for (;;) {
          await sleep(POLL_MS);
          if (submitError) throw submitError;
          assertAgentsAlive(agents);
          const { rows } = await client0.query<{ reserved: string }>(
            `SELECT COALESCE(sum(o."reservedTokens"), 0)::text AS reserved FROM delivery_obligations o JOIN series s ON s.id = o."seriesId" WHERE s.code = 'BDEL-1'`,
          );
          if (allSubmitted && rows[0].reserved === '0') {
            tEnd = performance.now();
            break;
          }
          if (performance.now() - lastLog > 1_000) {
            lastLog = performance.now();
            const [done, gaveUp] = await count();
            progress(`rep ${rep}/${REPS}: completed ${done}/${JOBS} (failed ${gaveUp})`);
          }
        }
        const [completed, failed] = await count();
        if (completed + failed !== JOBS) throw new Error(`the poll saw every job finished, but ${completed + failed} of ${JOBS} are`);
        const seconds = (tEnd - t0) / 1000;
        await submitting;
        const peakRssMiB = Math.max(...(await Promise.all(rss.map((r) => r.stop()))));
        // The API processes' CPU (all their work: HTTP, counting, SQL, queues), whatever else the machine ran.
        const cpu = (await cpuOf(pids)).map((c, i) => c - cpu0[i]);
        const workerCpu = (await cpuOf(workerPids)).reduce((a, c, i) => a + c - workerCpu0[i], 0);
        const agentCpu = (await cpuOf(agentPids)).reduce((a, c, i) => a + c - agentCpu0[i], 0);
        const pgCpu = (await cpuOf(pgPids)).reduce((a, c, i) => a + Math.max(0, c - pgCpu0[i]), 0);
        const { rows: lat } = await client0.query<{ ms: number }>(
          `SELECT (extract(epoch FROM "finishedAt" - "createdAt") * 1000)::float8 AS ms FROM delivery_jobs WHERE status = 'COMPLETED' AND seq > $1 AND "verifiesJobId" IS NULL`,
          [mark[0].seq],
        );
        const { rows: span } = await client0.query<{ s: number }>(
          `SELECT extract(epoch FROM max("finishedAt") - min("createdAt"))::float8 AS s FROM delivery_jobs WHERE seq > $1 AND "verifiesJobId" IS NULL`,
          [mark[0].seq],
        );
        // When each stage reached half and all of the jobs, in seconds from the first submission.
        const { rows: stages } = await client0.query<Record<string, number>>(
          `WITH t AS (SELECT "createdAt" AS c, "dispatchedAt" AS d, "leasedAt" AS l, "finishedAt" AS f, min("createdAt") OVER () AS t0 FROM delivery_jobs WHERE seq > $1 AND "verifiesJobId" IS NULL)
         SELECT ${['c', 'd', 'l', 'f'].map((x) => `extract(epoch FROM percentile_disc(0.5) WITHIN GROUP (ORDER BY ${x}) - min(t0))::float8 AS ${x}50, extract(epoch FROM max(${x}) - min(t0))::float8 AS ${x}100`).join(', ')} FROM t`,
          [mark[0].seq],
        );
        const st = stages[0];
        progress(
          `rep ${rep}/${REPS}: stages (s from first submission, half/all): submitted ${st.c50.toFixed(2)}/${st.c100.toFixed(2)}, dispatched ${st.d50.toFixed(2)}/${st.d100.toFixed(2)}, leased ${st.l50.toFixed(2)}/${st.l100.toFixed(2)}, completed ${st.f50.toFixed(2)}/${st.f100.toFixed(2)}`,
        );
        const phase: Phase = {
          // Only completed jobs count.
          rate: completed / seconds,
          serverSpanRate: JOBS / span[0].s,
          latencies: lat.map((r) => r.ms),
          peakRssMiB,
          cpuPerJobUs: (cpu.reduce((a, b) => a + b, 0) * 1e6) / JOBS,
          cores: cpu.map((c) => c / seconds),
          workerCpuPerJobUs: (workerCpu * 1e6) / JOBS,
          agentCpuPerJobUs: (agentCpu * 1e6) / JOBS,
          postgresCpuPerJobUs: (pgCpu * 1e6) / JOBS,
          failed,
        };
        phases.get(variantKey(variant))!.push(phase);
        progress(
          `rep ${rep}/${REPS}, ${allInOne ? '1 process, both roles' : `${copies} cop${copies === 1 ? 'y' : 'ies'}`}: ${phase.rate.toFixed(0)} jobs/s end to end seen by the client (${phase.serverSpanRate.toFixed(0)} by the old createdAt→finishedAt span); API RSS peak ${peakRssMiB.toFixed(0)} MiB, API CPU ${phase.cpuPerJobUs.toFixed(0)} µs a job (${phase.cores.map((c) => c.toFixed(2)).join(' + ')} cores)${workerPids.length ? `, worker CPU ${phase.workerCpuPerJobUs.toFixed(0)} µs a job` : ''}; agents ${phase.agentCpuPerJobUs.toFixed(0)} µs, Postgres ${phase.postgresCpuPerJobUs.toFixed(0)} µs a job`,
        );
        await Promise.all(agents.map((a) => stopProcess(a, 5_000)));
        for (const p of extra.processes) await stopProcess(p);
        if (allInOne) await startWorkers();
      }
    }
    // The first count of copies (1 by default) keeps the rows this bench always had.
    const own = phases.get(variantKey(VARIANTS[0]))!;
    const rates = own.map((p) => p.rate);
    const serverSpanRates = own.map((p) => p.serverSpanRate);
    const latencies = own.flatMap((p) => p.latencies);
    const peaks = own.map((p) => p.peakRssMiB);
    const cpuPerJobUs = own.map((p) => p.cpuPerJobUs);
    const failedJobs = own.reduce((a, p) => a + p.failed, 0);
    const allFailed = [...phases.values()].flat().reduce((a, p) => a + p.failed, 0);
    const workerCpuPerJobUs = own.map((p) => p.workerCpuPerJobUs);
    const { rows: checks } = await client0.query<{ usage: string; total: string; released: string }>(
      `SELECT (SELECT count(*) FROM usage_records) AS usage, (SELECT sum("balanceFen") FROM ledger_accounts) AS total, (SELECT count(*) FROM transfers WHERE kind = 'ESCROW_RELEASE') AS released`,
    );
    // Where the time went, from the server's own metrics: mean batch sizes and request latencies.
    const metricsText = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${key}` } })).text();
    const metric = (name: string) =>
      metricsText
        .split('\n')
        .filter((l) => l.startsWith(name))
        .reduce((acc, l) => acc + Number(l.split(' ').at(-1)), 0);
    const mean = (name: string) => metric(`${name}_sum`) / Math.max(1, metric(`${name}_count`));
    const route = (path: string) => {
      const lines = metricsText.split('\n').filter((l) => l.startsWith('http_request_duration_seconds_') && l.includes(`route="${path}"`));
      const sum = lines
        .filter((l) => l.startsWith('http_request_duration_seconds_sum'))
        .reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
      const count = lines
        .filter((l) => l.startsWith('http_request_duration_seconds_count'))
        .reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
      return `${path} ${count} requests, mean ${((sum / Math.max(1, count)) * 1000).toFixed(1)} ms`;
    };
    const inside = `batches: submissions ${mean('submission_batch_size').toFixed(1)} jobs/transaction, completions ${mean('completion_batch_size').toFixed(1)}/transaction, ${metric('submission_batch_races_total') + metric('completion_batch_races_total')} raced and run again whole, ${metric('submission_batch_fallbacks_total') + metric('completion_batch_fallbacks_total')} run again one by one; ${route('/v1/nodes/:id/lease')}; ${route('/v1/nodes/:id/completions')}; ${route('/v1/delivery/jobs/batch')}`;
    progress(inside);
    const rate = median(rates);
    const raw = median(raws);
    const perJobRaw = median(perJobRaws);
    const ms = latencies;
    const reasons = [
      ...(rate < 3_000 ? [`${rate.toFixed(0)} jobs/s < 3,000`] : []),
      ...(rate / raw < 0.5 ? [`${(rate / raw).toFixed(2)}× < 0.5× like-for-like raw BullMQ`] : []),
      ...(failedJobs > 0 ? [`${failedJobs} jobs FAILED`] : []),
    ];
    // The per-job cost of the clearing house's counting alone (SPEC §6.1), on the bench's own
    // prompts and the agents' simulated outputs, in this process after a warm-up: each text
    // encoded whole (the tokenizer's own cost), and as the service counts — CountingPool on this
    // event loop, words counted before answered from memory. The simulated outputs draw on 128
    // words, so after the warm-up their words are all remembered; the prompts are all unseen.
    const encoder = await loadTokenizer(tokenizerFor('llm-70b-instruct'));
    const texts = Array.from({ length: JOBS }, (_, i) => {
      const messages = [{ role: 'user' as const, content: `bench 1.${i}` }];
      return { messages, output: simulatedOutput(messages, i, 16) };
    });
    let countedTokens = 0;
    for (const t of texts.slice(0, 500)) countedTokens += countPromptTokens(encoder, t.messages) + countCompletionTokens(encoder, t.output);
    const c0 = performance.now();
    let wholeTokens = 0;
    for (const t of texts) wholeTokens += countPromptTokens(encoder, t.messages) + countCompletionTokens(encoder, t.output);
    const counting = ((performance.now() - c0) * 1000) / JOBS;
    countedTokens += wholeTokens;
    const inline = new CountingPool(0);
    const poolCount = (t: (typeof texts)[number]) =>
      Promise.all([inline.prompt('llama3', t.messages), inline.completion('llama3', t.output)]).then(([p, o]) => p + o);
    let pooledTokens = 0;
    for (const t of texts.slice(0, 500)) await poolCount(t);
    const before = inline.stats('llama3');
    const p0 = performance.now();
    for (let i = 0; i < texts.length; i += PER_REQUEST)
      for (const n of await Promise.all(texts.slice(i, i + PER_REQUEST).map(poolCount))) pooledTokens += n;
    const countingAsServed = ((performance.now() - p0) * 1000) / JOBS;
    const after = inline.stats('llama3');
    if (pooledTokens !== wholeTokens) throw new Error(`counting by words gave ${pooledTokens} tokens, whole texts ${wholeTokens}`);
    const hitRate = (after.hits - before.hits) / Math.max(1, after.hits - before.hits + after.misses - before.misses);
    await inline.close();
    const meta = {
      ...started,
      peakRssMiB: Math.max(...peaks),
      rssOf: WORKERS > 0 ? 'API process' : 'API+worker process',
    };
    const scenario = `${JOBS} jobs end to end, ${AGENTS} agents × ${AGENT_CONCURRENCY}, ${SUBMITTERS} clients × ${PER_REQUEST}/request`;
    /** A reported row for the phases of one shape: their median rate against `referenceValue`, failing if any job FAILED. */
    const variantFigure = (
      key: string,
      describe: (rate: number, ps: Phase[]) => Pick<Figure, 'scenario' | 'figure' | 'reference' | 'referenceValue' | 'rssOf'>,
    ): Figure => {
      const ps = phases.get(key)!;
      const r = median(ps.map((p) => p.rate));
      const failedHere = ps.reduce((a, p) => a + p.failed, 0);
      const d = describe(r, ps);
      return {
        ...d,
        value: r,
        ratio: r / d.referenceValue,
        goal: 'report (no job FAILED)',
        met: failedHere === 0,
        ...(failedHere ? { failReason: `${failedHere} jobs FAILED` } : {}),
        ...started,
        peakRssMiB: Math.max(...ps.map((p) => p.peakRssMiB)),
      };
    };
    const figures: Figure[] = [
      {
        scenario,
        figure: 'completed jobs/s (client-observed)',
        value: rate,
        reference: `raw BullMQ like-for-like (addBulk ${PER_REQUEST}, ${CHUNK}/entry, ${AGENTS} worker processes), jobs/s`,
        referenceValue: raw,
        ratio: rate / raw,
        goal: '≥ 3,000 jobs/s and ≥ 0.5× like-for-like raw',
        met: reasons.length === 0,
        ...(reasons.length ? { failReason: reasons.join('; ') } : {}),
        ...meta,
      },
      {
        scenario: `${scenario} vs the old per-job reference`,
        figure: 'completed jobs/s (client-observed)',
        value: rate,
        reference: 'raw BullMQ one add per call, 1 in-process worker × 16 (old reference), jobs/s',
        referenceValue: perJobRaw,
        ratio: rate / perJobRaw,
        goal: 'report',
        met: true,
        ...meta,
      },
      ...COPIES.slice(1).map((n) =>
        variantFigure(String(n), (r, ps) => ({
          scenario: `${scenario}, ${n} API copies`,
          figure: `completed jobs/s (client-observed; ${(r / rate).toFixed(2)}× ${COPIES[0]} cop${COPIES[0] === 1 ? 'y' : 'ies'} in the same run; API CPU ${median(ps.map((p) => p.cpuPerJobUs)).toFixed(0)} µs a job over the copies)`,
          reference: `raw BullMQ like-for-like (addBulk ${PER_REQUEST}, ${CHUNK}/entry, ${AGENTS} worker processes), jobs/s`,
          referenceValue: raw,
          rssOf: `largest of ${n} API processes`,
        })),
      ),
      // The same drain on one process running the API and worker roles, against the old per-job
      // reference too (issue 20's bar is read on it).
      ...(WORKERS > 0
        ? [
            variantFigure('all', (r, ps) => ({
              scenario: `${scenario}, 1 process running the API and worker roles`,
              figure: `completed jobs/s (client-observed; ${(r / rate).toFixed(2)}× the split roles in the same run; ${(r / raw).toFixed(2)}× like-for-like raw; CPU ${median(ps.map((p) => p.cpuPerJobUs)).toFixed(0)} µs a job)`,
              reference: 'raw BullMQ one add per call, 1 in-process worker × 16 (old reference), jobs/s',
              referenceValue: perJobRaw,
              rssOf: 'API+worker process',
            })),
          ]
        : []),
    ];
    printTable(figures);
    console.log(
      `submit → complete latency: p50 ${percentile(ms, 50).toFixed(0)} ms, p99 ${percentile(ms, 99).toFixed(0)} ms; usage records ${checks[0].usage}; ledger total ${checks[0].total}; escrow releases ${checks[0].released}`,
    );
    // The budget that bounds the like-for-like goal: what every job costs the two cores, against the rate asked.
    const [agentUs, pgUs] = [median(own.map((p) => p.agentCpuPerJobUs)), median(own.map((p) => p.postgresCpuPerJobUs))];
    const allUs = median(cpuPerJobUs) + median(workerCpuPerJobUs) + agentUs + pgUs;
    const budget = `CPU a job in all (API + worker + agents + Postgres, medians; the bench's clients and Redis not counted): ${allUs.toFixed(0)} µs; at that cost 3,000 jobs/s would take ${((3_000 * allUs) / 1e6).toFixed(2)} cores and 0.5× the like-for-like reference (${(raw / 2).toFixed(0)} jobs/s) ${(((raw / 2) * allUs) / 1e6).toFixed(2)} cores, of the machine's 2; Postgres alone ${pgUs.toFixed(0)} µs a job, where the reference finishes a job every ${(1e6 / raw).toFixed(0)} µs of wall time (at most ${(2e6 / raw).toFixed(0)} µs of the two cores' time), its workers touching no database`;
    await writeResults('delivery', {
      machine: await machine(db.url),
      figures,
      // The first shape's medians by both clocks, for bench:release1 (release 1 had only the server's).
      rates: { clientObserved: rate, serverSpan: median(serverSpanRates) },
      notes: [
        `API process CPU per job (user + system, /proc, over the drain; ${WORKERS > 0 ? `API role only; the worker process(es) ${median(workerCpuPerJobUs).toFixed(0)} µs more` : 'API + worker in one process'}): ${median(cpuPerJobUs).toFixed(0)} µs (median); the agents ${agentUs.toFixed(0)} µs and Postgres ${pgUs.toFixed(0)} µs a job more; counting (prompt + output with the pinned tokenizer, measured alone in the bench process on the same texts, ${countedTokens} tokens counted): ${counting.toFixed(1)} µs a job with every text encoded whole, ${countingAsServed.toFixed(1)} µs as the service counts (words remembered: ${(hitRate * 100).toFixed(0)} % of words answered from memory; ${pooledTokens} tokens)`,
        budget,
        `${REPS} interleaved repetitions, medians; p50 ${percentile(ms, 50).toFixed(0)} ms, p99 ${percentile(ms, 99).toFixed(0)} ms submit → complete (server timestamps)`,
        `timing: system and like-for-like reference both from the first submission sent by the bench to the first poll (every ${POLL_MS} ms, by the bench process) that sees every job finished — system: every submission answered and no token left reserved on the series' obligations in Postgres (a job holds its reservation until it completes or fails; the COMPLETED/FAILED count is checked to equal the jobs submitted after the clock stops); reference: BullMQ completed+failed counts of its queues. The old server-side span (first createdAt → last finishedAt) gave ${median(serverSpanRates).toFixed(0)} jobs/s (median), for comparison only`,
        `like-for-like reference: ${SUBMITTERS} clients, addBulk of ${PER_REQUEST} jobs cut in entries of ≤ ${CHUNK} (the dispatcher's CHUNK), round-robin over ${AGENTS} queues, each drained by one worker process (bench/raw-worker.ts) taking ${Math.max(1, Math.ceil(AGENT_CONCURRENCY / CHUNK))} entries at once (≈ ${AGENT_CONCURRENCY} jobs, the agents' --concurrency)`,
        ...COPIES.slice(1).map((n) => {
          const ps = phases.get(String(n))!;
          const cores = (qs: Phase[]) => qs.map((p) => p.cores.map((c) => c.toFixed(2)).join(' + ')).join(' | ');
          return `${n} copies ÷ ${COPIES[0]}: ${(median(ps.map((p) => p.rate)) / rate).toFixed(2)}× (medians, same run; by repetition ${ps.map((p, i) => (p.rate / own[i].rate).toFixed(2)).join(', ')}); API CPU per job over all copies ${median(ps.map((p) => p.cpuPerJobUs)).toFixed(0)} µs at ${n}, ${median(cpuPerJobUs).toFixed(0)} µs at ${COPIES[0]}; cores per API process by repetition: ${n} copies ${cores(ps)}; ${COPIES[0]}: ${cores(own)} — 2 cores shared with the agents, the bench's clients, Postgres and Redis; the second copy is started (and the agents restarted, spread over the copies) for its phase and stopped after it`;
        }),
        `${allFailed} delivery jobs FAILED over all repetitions and copies (not counted as delivered)`,
        `${checks[0].usage} usage records for ${REPS * VARIANTS.length * JOBS} jobs; ledger total ${checks[0].total}`,
        `${inside} (first API process, every phase)`,
        `each repetition: the two references, then the system at ${COPIES.join(', then ')} API cop(ies)${WORKERS > 0 ? ', then on 1 process running both roles' : ''}; ${WORKERS > 0 ? `API role in each copy and worker role in ${WORKERS} process(es), as docker-compose.yml and deploy/k8s run the service (until 2026-12-06 this bench ran the API and worker roles in one process: that shape is the row "1 process running the API and worker roles")` : 'API + worker in each copy'} (dist/main.js), ${AGENTS} agent processes (completions reported in batches), ${SUBMITTERS} submitting clients, ${PER_REQUEST === 1 ? 'one job per POST /v1/delivery/jobs' : `${PER_REQUEST} jobs per POST /v1/delivery/jobs/batch`}`,
      ],
    });
  } finally {
    for (const a of agents) a.kill('SIGKILL');
    for (const p of [...replicas, ...(server ? [server] : [])]) await stopProcess(p, 3_000);
    await client0.end();
    await db.drop();
  }
}

await main();
