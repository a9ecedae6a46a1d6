import { execFile, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { openSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { applyMigrations } from '../src/platform/prisma/migrator.js';

const run = promisify(execFile);

export const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function withDb(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** A scratch database for one benchmark, dropped afterwards. */
export async function scratchDatabase(migrated: boolean): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `tc_bench_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = withDb(ADMIN_URL, name);
  if (migrated) await applyMigrations(url);
  return { url, drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** pgbench's TPC-B-like transaction rate on a scratch database of the same server. */
export async function pgbenchTps(url: string, seconds: number, clients: number): Promise<number> {
  const { stdout } = await run('pgbench', ['-n', '-c', String(clients), '-j', '2', '-T', String(seconds), url], { maxBuffer: 10_000_000 });
  const m = /tps = ([0-9.]+) \(without initial connection time\)/.exec(stdout);
  if (!m) throw new Error(`could not read pgbench output:\n${stdout}`);
  return Number(m[1]);
}

export async function pgbenchInit(url: string, scale: number): Promise<void> {
  await run('pgbench', ['-i', '-q', '-s', String(scale), url]);
}

/** Redis version and the settings that matter to queues, from INFO (same Redis the benches use). */
async function redisFacts(): Promise<Record<string, string>> {
  const { Redis } = await import('ioredis');
  const r = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    const info = await r.info();
    const field = (n: string) => new RegExp(`^${n}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '?';
    return {
      redis: field('redis_version'),
      redis_maxmemory_policy: field('maxmemory_policy'),
      redis_aof: field('aof_enabled') === '1' ? 'on' : 'off',
    };
  } catch {
    return { redis: 'unreachable' };
  } finally {
    r.disconnect();
  }
}

export async function machine(url: string): Promise<Record<string, string>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const setting = async (name: string) => String((await c.query('SELECT current_setting($1) AS v', [name])).rows[0]?.v ?? '');
    return {
      cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}`,
      memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
      node: process.version,
      postgres: await setting('server_version'),
      synchronous_commit: await setting('synchronous_commit'),
      shared_buffers: await setting('shared_buffers'),
      fsync: await setting('fsync'),
      ...(await redisFacts()),
    };
  } finally {
    await c.end();
  }
}

export interface Figure {
  scenario: string;
  figure: string;
  value: number;
  reference: string;
  referenceValue: number;
  ratio: number;
  goal: string;
  met: boolean;
  /** Why the row failed its goal (or why it cannot count), in words. */
  failReason?: string;
  /** When this row's own measurement started (its first repetition), ISO time. */
  startedAt: string;
  /** git rev-parse HEAD of the tree measured. */
  commit: string;
  /** Peak resident memory (MiB) of the process under load, and which process that was. */
  peakRssMiB?: number;
  rssOf?: string;
}

/** A row's context, stamped when its measurement starts: time, commit (the machine line is per file). */
export async function rowStart(): Promise<{ startedAt: string; commit: string }> {
  return { startedAt: new Date().toISOString(), commit: await commit() };
}

let headCommit: string | undefined;
export async function commit(): Promise<string> {
  if (headCommit) return headCommit;
  try {
    const { stdout } = await run('git', ['rev-parse', 'HEAD']);
    const { stdout: dirty } = await run('git', [
      'status',
      '--porcelain',
      '--untracked-files=no',
      '--',
      'src',
      'prisma',
      'bench',
      ':!bench/results',
    ]);
    headCommit = `${stdout.trim()}${dirty.trim() ? ' (+ uncommitted changes)' : ''}`;
  } catch {
    headCommit = 'unknown';
  }
  return headCommit;
}

/** Resident memory of a process, from /proc (no ps process spawned on every poll). */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 1/100 s). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command: state is field 3, utime 14 and stime 15 (1-based over the whole line).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Busy CPU seconds of the whole machine since boot, all cores (/proc/stat: every state but idle and iowait). */
export async function machineBusySeconds(): Promise<number> {
  const [cpu] = (await readFile('/proc/stat', 'utf8')).split('\n');
  const ticks = cpu.trim().split(/\s+/).slice(1, 9).map(Number);
  return (ticks.reduce((a, b) => a + b, 0) - ticks[3] - ticks[4]) / 100;
}

export const WATCH_MS = 10;

/** Average number of a database's client backends in each state over a phase. */
export interface BackendStates {
  lockWait: number;
  running: number;
  idleInTx: number;
}

/**
 * Samples pg_stat_activity of the database at `url` every WATCH_MS ms from its own connection until
 * stop(): how many client backends wait on a heavyweight lock (a row another transaction holds),
 * run, or sit idle in a transaction (waiting on their client), on average.
 */
export function watchBackends(url: string): { stop: () => Promise<BackendStates> } {
  const client = new pg.Client({ connectionString: url });
  const sums = { lockWait: 0, running: 0, idleInTx: 0 };
  let n = 0;
  let stopped = false;
  const loop = (async () => {
    await client.connect();
    while (!stopped) {
      const { rows } = await client.query<{ lock: number; running: number; idle: number }>(
        `SELECT count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock')::int AS lock,
                count(*) FILTER (WHERE state = 'active' AND wait_event_type IS DISTINCT FROM 'Lock')::int AS running,
                count(*) FILTER (WHERE state = 'idle in transaction')::int AS idle
         FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
      );
      sums.lockWait += rows[0].lock;
      sums.running += rows[0].running;
      sums.idleInTx += rows[0].idle;
      n++;
      await new Promise((r) => setTimeout(r, WATCH_MS));
    }
    await client.end();
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      const d = Math.max(1, n);
      return { lockWait: sums.lockWait / d, running: sums.running / d, idleInTx: sums.idleInTx / d };
    },
  };
}

/** The PIDs of this machine's Postgres processes (the server and its backends), for CPU figures. */
export async function postgresPids(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '');
    if (comm.trim() === 'postgres') pids.push(Number(entry));
  }
  return pids;
}

/** Samples a process's RSS every `everyMs` until stop(), which returns the peak in MiB. */
export function rssPeak(pid: number, everyMs = 100): { stop: () => Promise<number> } {
  let peak = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      peak = Math.max(peak, await rssMiB(pid).catch(() => 0));
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return Math.max(peak, await rssMiB(pid).catch(() => 0));
    },
  };
}

/** bench/results/, or BENCH_RESULTS_DIR (smoke runs write there, leaving the committed figures alone). */
export function resultsFile(file: string): URL {
  const dir = process.env.BENCH_RESULTS_DIR;
  return dir ? new URL(file, `file://${dir.replace(/\/?$/, '/')}`) : new URL(`./results/${file}`, import.meta.url);
}

export async function writeResults(
  name: string,
  data: { machine: Record<string, string>; figures: Figure[]; notes?: string[]; [extra: string]: unknown },
): Promise<void> {
  const path = resultsFile(`${name}.json`);
  await mkdir(dirname(path.pathname), { recursive: true });
  await writeFile(path, `${JSON.stringify({ measuredAt: new Date().toISOString(), ...data }, null, 2)}\n`);
}

export function printTable(figures: Figure[]): void {
  const rows = figures.map((f) => [
    f.scenario,
    `${f.value.toFixed(0)} ${f.figure}`,
    `${f.referenceValue.toFixed(0)} (${f.reference})`,
    `${f.ratio >= 0.01 ? f.ratio.toFixed(2) : f.ratio.toPrecision(2)}×`,
    f.goal,
    f.met ? 'yes' : `NO${f.failReason ? ` (${f.failReason})` : ''}`,
    f.peakRssMiB === undefined ? '—' : `${f.peakRssMiB.toFixed(0)} MiB`,
  ]);
  const head = ['scenario', 'figure', 'reference', 'ratio', 'goal', 'met', 'peak RSS'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Servers run as their own processes, as in production; the load comes from the bench process. */
export async function startServer(args: string[], env: NodeJS.ProcessEnv, readyUrl: string): Promise<ChildProcess> {
  // BENCH_SERVER_LOG=file keeps the servers' logs (appended), for finding out why a run was slow.
  const log = process.env.BENCH_SERVER_LOG ? openSync(process.env.BENCH_SERVER_LOG, 'a') : 'ignore';
  // BENCH_SERVER_NODE_ARGS: Node.js flags for the servers only (--trace-gc, --cpu-prof…), to find out where a run's time went.
  const nodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', log, 'inherit'] });
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
    try {
      if ((await fetch(readyUrl)).ok) return child;
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${readyUrl} did not come up`);
}
