import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENERATED_PATH, generateClientTypes } from '../../src/client/generate.js';
import { ROOT } from '../harness/processes.js';

// The typed client is generated from the app's /openapi.json and committed: a controller or DTO
// change that is not regenerated would leave the CLI, console and agent typed against an old API.

describe('client: src/client/openapi.d.ts matches the app', () => {
  it('regenerating gives the committed file', async () => {
    const fresh = join(mkdtempSync(join(tmpdir(), 'tc-client-')), 'openapi.d.ts');
    writeFileSync(fresh, await generateClientTypes());
    const committed = readFileSync(join(ROOT, GENERATED_PATH), 'utf8');
    const same = readFileSync(fresh, 'utf8') === committed;
    expect(
      same,
      `${GENERATED_PATH} is out of date with the controllers: run npm run client:generate and commit it (fresh copy: ${fresh})`,
    ).toBe(true);
  });
});
