// npm run bench — every bench in turn (built once by the npm script), then bench/results/latest.md:
// one table of every row measured in THIS run against the reference measured beside it, each row
// with its own start time, commit, machine line and peak RSS, its goal and whether it met it.
// A bench that fails in this run shows as a failed row, never as its previous figures.
// `npm run bench -- orders ledger` runs only those (the others then show as not run).
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { progress, resultsFile, type Figure } from './lib.js';

// BENCH_SMOKE=1 (npm run bench:smoke): every bench at a small size, results to /tmp, so a busy
// machine can check the benches still run end to end in a few minutes. Any knob set wins.
const SMOKE: Record<string, string> = {
  BENCH_RESULTS_DIR: '/tmp/tokenclear-bench-smoke',
  BENCH_REPS: '1',
  BENCH_SECONDS: '2',
  BENCH_CLIENTS: '8',
  BENCH_BATCH_N: '2000',
  BENCH_SMALL_N: '2000',
  BENCH_SINGLE_N: '200',
  BENCH_PGBENCH_SECONDS: '2',
  BENCH_JOBS: '600',
  BENCH_AGENTS: '2',
  BENCH_SUBMITTERS: '4',
  BENCH_SERIES: '40',
  BENCH_MEMBERS: '100',
  BENCH_DAY_TRADES: '4',
  BENCH_TRANSFERS: '20000',
  BENCH_SUBSCRIBERS: '200',
};
if (process.env.BENCH_SMOKE === '1') for (const [k, v] of Object.entries(SMOKE)) process.env[k] ??= v;

const BENCHES = ['ledger', 'orders', 'delivery', 'release1', 'settlement', 'reconciliation', 'stream'] as const;

interface Result {
  measuredAt: string;
  machine: Record<string, string>;
  figures: Figure[];
  notes?: string[];
}

function run(name: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `bench/${name}.ts`], { stdio: 'inherit', env: process.env });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

await mkdir(new URL('.', resultsFile('latest.md')), { recursive: true });
const runStart = new Date();
const only = process.argv.slice(2);
const outcome = new Map<string, 'ok' | 'failed' | 'not run'>();
const seconds = new Map<string, number>();
for (const name of BENCHES) {
  if (only.length && !only.includes(name)) {
    outcome.set(name, 'not run');
    continue;
  }
  progress(`running bench:${name}`);
  const t0 = performance.now();
  outcome.set(name, (await run(name)) === 0 ? 'ok' : 'failed');
  seconds.set(name, (performance.now() - t0) / 1000);
}

const results: [string, Result | undefined][] = [];
for (const name of BENCHES) {
  let r: Result | undefined;
  try {
    r = JSON.parse(await readFile(resultsFile(`${name}.json`), 'utf8')) as Result;
  } catch {
    r = undefined;
  }
  // Only figures written by this run count: an older file is another run's figures.
  results.push([name, outcome.get(name) === 'ok' && r && new Date(r.measuredAt) >= runStart ? r : undefined]);
}
const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(1) : n.toFixed(3));
const machineLine = (m: Record<string, string>) =>
  Object.entries(m)
    .map(([k, v]) => `${k} ${v}`)
    .join('; ');
const machines: string[] = [];
const machineRef = (m: Record<string, string>) => {
  const line = machineLine(m);
  if (!machines.includes(line)) machines.push(line);
  return `M${machines.indexOf(line) + 1}`;
};
const rows = results.flatMap(([name, r]) => {
  if (!r) {
    const why = outcome.get(name) === 'not run' ? 'not run in this run' : 'bench failed in this run (see its output)';
    return [`| ${name} | — | ${why} | — | — | — | **no** (${why}) | — | — | — | — |`];
  }
  const m = machineRef(r.machine);
  return r.figures.map(
    (f) =>
      `| ${name} | ${f.scenario} | ${fmt(f.value)} ${f.figure} | ${fmt(f.referenceValue)} (${f.reference}) | ${f.ratio >= 0.01 ? f.ratio.toFixed(2) : f.ratio.toPrecision(2)}× | ${f.goal} | ${f.met ? 'yes' : `**no**${f.failReason ? ` (${f.failReason})` : ''}`} | ${f.peakRssMiB === undefined ? '—' : `${f.peakRssMiB.toFixed(0)} MiB (${f.rssOf ?? '?'})`} | ${f.startedAt} | ${f.commit.slice(0, 12)}${f.commit.includes('+') ? ' +uncommitted' : ''} | ${m} |`,
  );
});
const all = results.flatMap(([, r]) => r?.figures ?? []);
const goals = all.filter((f) => f.goal !== 'report' && !f.goal.startsWith('report'));
const lines = [
  '# TokenClear benchmark results',
  '',
  `Written by \`npm run bench\`, run started ${runStart.toISOString()}, finished ${new Date().toISOString()}. Every row below was measured in this run; each bench measures its reference in the same run on the same machine, interleaved with the system; ratios are system ÷ reference (for times, lower is better). Goals met: ${goals.filter((f) => f.met).length} of ${goals.length} rows with a goal${results.some(([, r]) => !r) ? '; benches without figures in this run count as not met' : ''}.`,
  '',
  '| bench | scenario | figure | reference | ratio | goal | met | peak RSS | row started | commit | machine |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows,
  '',
  '## Machines',
  '',
  ...machines.map((line, i) => `- **M${i + 1}**: ${line}`),
  '',
  '## Notes',
  '',
  ...results.map(
    ([name, r]) =>
      `- **${name}** (${outcome.get(name)}${seconds.has(name) ? `, ${seconds.get(name)!.toFixed(0)} s` : ''}${r ? `, written ${r.measuredAt}` : ''}): ${(r?.notes ?? []).join('; ') || '—'}`,
  ),
  '',
];
await writeFile(resultsFile('latest.md'), lines.join('\n'));
progress(`wrote ${resultsFile('latest.md').pathname}`);
process.exit([...outcome.values()].includes('failed') ? 1 : 0);
