import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../harness/processes.js';

const compose = (() => {
  try {
    execFileSync('docker-compose', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

// docker-compose (Debian's v1.29, installed by .ci/run) validates the file offline, profiles included.
describe.runIf(compose)('docker-compose profile "scale"', () => {
  const config = (...args: string[]) =>
    spawnSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), ...args, 'config'], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        BOOTSTRAP_CLEARING_KEY: `tck_${'a'.repeat(40)}`,
        VERIFICATION_SAMPLING_KEY: 'v'.repeat(40),
        POSTGRES_PASSWORD: 'pw',
      },
    });

  it('runs 3 API copies behind nginx and 2 workers, all on the one Postgres and Redis', () => {
    const res = config('--profile', 'scale');
    expect([res.status, res.stderr]).toEqual([0, '']);
    const roles = [...res.stdout.matchAll(/PROCESS_ROLE: (\w+)/g)].map((m) => m[1]).sort();
    expect(roles).toEqual(['api', 'api', 'api', 'worker', 'worker']);
    expect(res.stdout).toContain('nginx');
    const nginx = readFileSync(join(ROOT, 'deploy', 'nginx', 'nginx.conf'), 'utf8');
    for (const api of ['api:3000', 'api-2:3000', 'api-3:3000']) expect(nginx).toContain(`server ${api}`);
  });
});
