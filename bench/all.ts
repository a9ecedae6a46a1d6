// npm run bench — every bench:* script in turn, then bench/results/latest.md: one table of every
// figure against the reference measured in the same run, with the machine it ran on.
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { progress, type Figure } from './lib.js';

const BENCHES = ['ledger', 'orders', 'delivery', 'settlement'] as const;

interface Result {
  measuredAt: string;
  machine: Record<string, string>;
  figures: Figure[];
  notes?: string[];
}

function run(name: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', `bench:${name}`], { stdio: 'inherit', env: process.env });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

const only = process.argv.slice(2);
const failed: string[] = [];
for (const name of BENCHES) {
  if (only.length && !only.includes(name)) continue;
  progress(`running bench:${name}`);
  if ((await run(name)) !== 0) failed.push(name);
}

const results: [string, Result][] = [];
for (const name of BENCHES) {
  try {
    results.push([name, JSON.parse(await readFile(new URL(`./results/${name}.json`, import.meta.url), 'utf8')) as Result]);
  } catch {
    progress(`no results for ${name}`);
  }
}
const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(1) : n.toFixed(3));
const machine = results[0]?.[1].machine ?? {};
const lines = [
  '# TokenClear benchmark results',
  '',
  `Written by \`npm run bench\` on ${new Date().toISOString()}. Each bench measures its reference in the same run on the same machine; ratios are system ÷ reference (for times, lower is better).`,
  '',
  `Machine: ${Object.entries(machine)
    .map(([k, v]) => `${k} ${v}`)
    .join('; ')}`,
  '',
  '| bench | scenario | figure | reference | ratio | goal | met |',
  '|---|---|---|---|---|---|---|',
  ...results.flatMap(([name, r]) =>
    r.figures.map(
      (f) =>
        `| ${name} | ${f.scenario} | ${fmt(f.value)} ${f.figure} | ${fmt(f.referenceValue)} (${f.reference}) | ${f.ratio.toFixed(2)}× | ${f.goal} | ${f.met ? 'yes' : '**no**'} |`,
    ),
  ),
  '',
  '## Notes',
  '',
  ...results.flatMap(([name, r]) => [`- **${name}** (measured ${r.measuredAt}): ${(r.notes ?? []).join('; ') || '—'}`]),
  ...(failed.length ? ['', `Benches that failed in this run (their previous results are shown if any): ${failed.join(', ')}`] : []),
  '',
];
await writeFile(new URL('./results/latest.md', import.meta.url), lines.join('\n'));
progress('wrote bench/results/latest.md');
process.exit(failed.length ? 1 : 0);
