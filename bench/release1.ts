// bench:release1 — delivery against release 1 itself, in the same run (issue 20: "keep end-to-end
// throughput within 20 % of today's figure (same run, same reference)"). The per-job BullMQ
// ratio stood in for that comparison (0.32x then, so 0.256x now); this measures it directly.
//
// Release 1 (580c65c) is checked out in a git worktree of this repository (BENCH_RELEASE1_DIR,
// default ~/.cache/tokenclear-release1), installed with npm ci and built once. Each repetition
// runs release 1's own bench:delivery, then this one's, one after the other on the same machine.
// Both run in the shape release 1 measured: one process running the API and worker roles,
// 4 agents × 256, 16 clients × 50 jobs a request, 8,000 jobs. Both are timed by release 1's clock,
// the only one it had: the first job's createdAt to the last job's finishedAt, in Postgres.
// This bench's client-observed figure (a stricter clock) is reported beside it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { machine, median, printTable, progress, rowStart, writeResults, ADMIN_URL, type Figure } from './lib.js';

const RELEASE1 = '580c65c';
const DIR = process.env.BENCH_RELEASE1_DIR ?? join(homedir(), '.cache', 'tokenclear-release1');
// Five pairs, not the three the other benches run: release 1 itself stalls in some runs (its
// heartbeats deadlock with its completion batches, fixed in release 2), so a median of three
// swung between 0.72x and 1.04x on the same code in one afternoon. BENCH_RELEASE1_REPS wins, then
// BENCH_REPS (bench:smoke's 1).
const REPS = Number(process.env.BENCH_RELEASE1_REPS ?? process.env.BENCH_REPS ?? 5);
const ROOT = new URL('..', import.meta.url).pathname;
/** One bench:delivery run takes about a minute; one that hangs fails the row instead of the whole bench. */
const RUN_TIMEOUT_MS = 10 * 60_000;

/** Runs a command; rejects with its tail of output when it fails. */
function sh(
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; quiet?: boolean; timeoutMs?: number },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.timeoutMs ? { timeout: opts.timeoutMs, killSignal: 'SIGKILL' as const } : {}),
    });
    let out = '';
    const keep = (chunk: Buffer) => {
      out = (out + chunk.toString()).slice(-20_000);
      if (!opts.quiet) process.stderr.write(chunk);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out.slice(-2_000)}`)),
    );
  });
}

/** Release 1 checked out, installed and built in DIR (once; later runs reuse it). */
async function release1(): Promise<string> {
  const commit = (await sh('git', ['rev-parse', `${RELEASE1}^{commit}`], { cwd: ROOT, quiet: true })).trim();
  if (!existsSync(join(DIR, '.git'))) {
    progress(`checking out release 1 (${RELEASE1}) in ${DIR}`);
    await sh('git', ['worktree', 'prune'], { cwd: ROOT, quiet: true });
    await sh('git', ['worktree', 'add', '--force', '--detach', DIR, commit], { cwd: ROOT, quiet: true });
  }
  const head = (await sh('git', ['rev-parse', 'HEAD'], { cwd: DIR, quiet: true })).trim();
  if (head !== commit) throw new Error(`${DIR} holds ${head}, not release 1 (${commit}): remove it or set BENCH_RELEASE1_DIR`);
  if (!existsSync(join(DIR, 'node_modules', '.package-lock.json'))) {
    progress('installing release 1 (npm ci)');
    await sh('npm', ['ci', '--no-audit', '--no-fund'], { cwd: DIR, quiet: true });
  }
  if (!existsSync(join(DIR, 'dist', 'main.js'))) {
    progress('building release 1');
    await sh('npm', ['run', 'build', '--silent'], { cwd: DIR, quiet: true });
  }
  return commit;
}

interface Pair {
  release1: number;
  release1Reference: number;
  nowSpan: number;
  nowClient: number;
}

async function main(): Promise<void> {
  const started = await rowStart();
  const commit1 = await release1();
  const out = await mkdtemp(join(tmpdir(), 'tc-release1-'));
  const pairs: Pair[] = [];
  try {
    for (let rep = 1; rep <= REPS; rep++) {
      progress(`rep ${rep}/${REPS}: release 1's bench:delivery`);
      // Release 1's bench writes its results into its own tree (it has no BENCH_RESULTS_DIR), where
      // a committed file already stands: it goes first, so only this run's figures can be read.
      // Its shape is pinned, whatever this process was started with.
      const r1File = join(DIR, 'bench', 'results', 'delivery.json');
      await rm(r1File, { force: true });
      await sh(process.execPath, ['--import', 'tsx', 'bench/delivery.ts'], {
        cwd: DIR,
        env: { BENCH_REPS: '1', BENCH_WORKERS: '0', BENCH_PROCESSES: '1' },
        timeoutMs: RUN_TIMEOUT_MS,
      });
      const r1 = JSON.parse(await readFile(r1File, 'utf8')) as { figures: Figure[] };
      progress(`rep ${rep}/${REPS}: release 1 ${r1.figures[0].value.toFixed(0)} jobs/s; now this bench:delivery in release 1's shape`);
      await sh(process.execPath, ['--import', 'tsx', 'bench/delivery.ts'], {
        cwd: ROOT,
        env: { BENCH_REPS: '1', BENCH_COPIES: '1', BENCH_WORKERS: '0', BENCH_RESULTS_DIR: out },
        timeoutMs: RUN_TIMEOUT_MS,
      });
      const now = JSON.parse(await readFile(join(out, 'delivery.json'), 'utf8')) as {
        rates: { clientObserved: number; serverSpan: number };
      };
      pairs.push({
        release1: r1.figures[0].value,
        release1Reference: r1.figures[0].referenceValue,
        nowSpan: now.rates.serverSpan,
        nowClient: now.rates.clientObserved,
      });
      const p = pairs.at(-1)!;
      progress(
        `rep ${rep}/${REPS}: now ${p.nowSpan.toFixed(0)} jobs/s (client-observed ${p.nowClient.toFixed(0)}) ÷ release 1 ${p.release1.toFixed(0)} = ${(p.nowSpan / p.release1).toFixed(2)}×`,
      );
    }
  } finally {
    await sh('git', ['checkout', '--', 'bench/results'], { cwd: DIR, quiet: true }).catch(() => undefined);
    await rm(out, { recursive: true, force: true });
  }
  const r1 = median(pairs.map((p) => p.release1));
  const now = median(pairs.map((p) => p.nowSpan));
  const ratios = pairs.map((p) => p.nowSpan / p.release1);
  const ratio = median(ratios);
  const figures: Figure[] = [
    {
      scenario: `delivery, 8000 jobs end to end in release 1's shape (1 process running the API and worker roles, 4 agents × 256, 16 clients × 50/request), vs release 1 (${RELEASE1}) in the same run`,
      figure: `completed jobs/s (first createdAt → last finishedAt, release 1's clock; client-observed ${median(pairs.map((p) => p.nowClient)).toFixed(0)})`,
      value: now,
      reference: `release 1's own bench:delivery, same machine, alternating, jobs/s (same clock)`,
      referenceValue: r1,
      ratio,
      goal: '≥ 0.8× release 1 (issue 20)',
      met: ratio >= 0.8,
      ...(ratio < 0.8 ? { failReason: `${ratio.toFixed(2)}× < 0.8× release 1` } : {}),
      ...started,
    },
  ];
  printTable(figures);
  await writeResults('release1', {
    machine: await machine(ADMIN_URL),
    figures,
    notes: [
      `${REPS} repetitions, each release 1's bench:delivery (its own scratch database, API process, agents and clients) then this one's at BENCH_COPIES=1 BENCH_WORKERS=0, one after the other; medians`,
      `by repetition, now ÷ release 1: ${ratios.map((x) => x.toFixed(2)).join(', ')} (release 1 ${pairs.map((p) => p.release1.toFixed(0)).join(', ')} jobs/s; now ${pairs.map((p) => p.nowSpan.toFixed(0)).join(', ')}; release 1's raw BullMQ reference ${pairs.map((p) => p.release1Reference.toFixed(0)).join(', ')})`,
      `release 1 is ${commit1.slice(0, 12)}, checked out in ${DIR} (npm ci and build once; reused)`,
    ],
  });
}

await main();
