// Scale-out (issue 27): the service as N identical API+worker processes on the same Postgres and
// Redis, like N replicas behind a load balancer. Each bench measures every count of BENCH_COPIES
// in the same run, interleaved per repetition. The extra copies are started for their phase and
// stopped after it, so a "1 copy" phase has no idle second copy taking queue work or CPU.
import type { ChildProcess } from 'node:child_process';
import { cpuSeconds, freePort, startServer } from './lib.js';

/** BENCH_COPIES=1,2 (default); the older BENCH_PROCESSES=N means N copies only. */
export function copiesList(): number[] {
  const raw = process.env.BENCH_COPIES ?? process.env.BENCH_PROCESSES ?? '1,2';
  const list = [...new Set(raw.split(',').map((s) => Number(s.trim())))];
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`BENCH_COPIES=${raw}: want counts like 1,2`);
  return list;
}

export interface Copies {
  bases: string[];
  processes: ChildProcess[];
}

/** `n` more copies with the first one's arguments and environment, each on its own port. */
export async function startCopies(n: number, args: string[], env: NodeJS.ProcessEnv): Promise<Copies> {
  const out: Copies = { bases: [], processes: [] };
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    out.processes.push(await startServer(args, { ...env, PORT: String(port) }, `${base}/health/ready`));
    out.bases.push(base);
  }
  return out;
}

/** SIGTERM and wait for the exit (a copy shutting down still uses CPU), SIGKILL after `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** CPU seconds used so far by each process (0 for one that has gone). */
export function cpuOf(pids: number[]): Promise<number[]> {
  return Promise.all(pids.map((pid) => cpuSeconds(pid).catch(() => 0)));
}
