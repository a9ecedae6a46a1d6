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

describe('deployment files', () => {
  it('the Docker image builds and runs on Node 24 LTS, as a non-root user', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const bases = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(bases).toEqual(['node:24-bookworm-slim', 'node:24-bookworm-slim']);
    expect(dockerfile).toMatch(/^USER node$/m);
  });

  it('ship no default secret', () => {
    for (const file of ['docker-compose.yml', 'Dockerfile', 'README.md']) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      expect([file, text.match(/tck_[A-Za-z0-9_-]{20,}/)?.[0]]).toEqual([file, undefined]);
      expect([file, /POSTGRES_PASSWORD:\s*tokenclear/.test(text)]).toEqual([file, false]);
    }
  });

  // docker-compose (Debian's package, installed by .ci/run) validates the file offline.
  describe.runIf(compose)('docker-compose config', () => {
    const run = (env: NodeJS.ProcessEnv) =>
      spawnSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), 'config', '--quiet'], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, ...env },
      });

    it('validates once the secrets are set', () => {
      const ok = run({
        BOOTSTRAP_CLEARING_KEY: `tck_${'a'.repeat(40)}`,
        VERIFICATION_SAMPLING_KEY: 'v'.repeat(40),
        POSTGRES_PASSWORD: 'pw',
      });
      expect([ok.status, ok.stderr]).toEqual([0, '']);
    });

    it('refuses to start without BOOTSTRAP_CLEARING_KEY', () => {
      const refused = run({ POSTGRES_PASSWORD: 'pw', VERIFICATION_SAMPLING_KEY: 'v'.repeat(40) });
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toContain('BOOTSTRAP_CLEARING_KEY');
    });

    it('refuses to start without VERIFICATION_SAMPLING_KEY', () => {
      const refused = run({ POSTGRES_PASSWORD: 'pw', BOOTSTRAP_CLEARING_KEY: `tck_${'a'.repeat(40)}` });
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toContain('VERIFICATION_SAMPLING_KEY');
    });
  });
});
