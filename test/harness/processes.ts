import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const MAIN = join(ROOT, 'dist', 'main.js');

export function assertBuilt(): void {
  if (!existsSync(MAIN)) throw new Error('dist/main.js is missing: run `npm run build` (npm test does it for you)');
}

/** Environment for a child: ours minus service URLs, so each test states exactly what it gives. */
export function childEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'PORT', 'PROCESS_ROLE', 'BOOTSTRAP_CLEARING_KEY', 'MIGRATE_ON_START', 'DATA_DIR'])
    delete env[k];
  return { ...env, LOG_LEVEL: 'warn', ...extra };
}

export interface Spawned {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export function spawnNode(args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): Spawned {
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

export async function waitForHttp(url: string, status: number, timeoutMs: number, proc?: Spawned): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (proc && proc.child.exitCode !== null) throw new Error(`process exited early (${proc.child.exitCode}):\n${proc.output()}`);
    try {
      const res = await fetch(url);
      if (res.status === status) return Date.now() - started;
    } catch {
      // not listening yet
    }
    if (Date.now() - started > timeoutMs)
      throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms\n${proc?.output() ?? ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function processesMatching(pattern: string): Promise<string[]> {
  return new Promise((resolvePids) => {
    const ps = spawn('pgrep', ['-f', pattern]);
    let out = '';
    ps.stdout.on('data', (d: Buffer) => (out += d.toString()));
    ps.on('exit', () =>
      resolvePids(
        out
          .split('\n')
          .filter(Boolean)
          .filter((pid) => Number(pid) !== ps.pid),
      ),
    );
  });
}
