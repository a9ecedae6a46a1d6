import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../src/platform/time/clock.js';
import { verifiedBankAccount, type TestMember } from '../harness/factories.js';
import { assertBuilt, childEnv, ROOT, spawnNode } from '../harness/processes.js';
import { endedDayWithTrade } from '../harness/settlement-helpers.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

const CLI = `${ROOT}/dist/cli/main.js`;
const DAY = '2026-12-01';

describe('clearing CLI against a live server', () => {
  let t: TestApp;
  let a: TestMember;
  const dir = mkdtempSync(join(tmpdir(), 'tc-cli-'));
  const cli = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const p = spawnNode([CLI, ...args], childEnv({ TOKENCLEAR_API: t.baseUrl, TOKENCLEAR_KEY: t.clearingKey, ...env }));
    const code = await p.exited;
    return { code, output: p.output() };
  };

  beforeAll(async () => {
    assertBuilt();
    t = await startTestApp({ env: { LOG_LEVEL: 'error' } });
    ({ a } = await endedDayWithTrade(t, 'CLI-1'));
    await verifiedBankAccount(t, a);
  });
  afterAll(() => t.close());

  it('prints usage, and exits 2 on a usage mistake or a missing key', async () => {
    expect((await cli([])).code).toBe(0);
    const unknown = await cli(['launch', 'rockets']);
    expect(unknown.code).toBe(2);
    expect(unknown.output).toContain('usage: npm run cli');
    expect((await cli(['settlement', 'run'])).code).toBe(2); // --type missing
    expect((await cli(['recon', 'run', '--bogus'])).code).toBe(2);
    const nokey = await cli(['recon', 'run'], { TOKENCLEAR_KEY: '' });
    expect(nokey.code).toBe(2);
    expect(nokey.output).toContain('TOKENCLEAR_KEY');
  });

  it('settlement run follows the run to the end with progress, then prints it', async () => {
    const res = await cli(['settlement', 'run', '--type', 'DAILY', '--series', 'CLI-1', '--date', DAY]);
    expect(res.code, res.output).toBe(0);
    expect(res.output).toMatch(/\[#+\.*\] 100 % \(1\/1\) runs finished/);
    expect(res.output).toMatch(/CLI-1\s+DAILY\s+2026-12-01\s+COMPLETED\s+4\.10/);
    const json = await cli(['settlement', 'run', '--type', 'DAILY', '--series', 'CLI-1', '--date', DAY, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.output.slice(json.output.indexOf('[')))[0]).toMatchObject({
      series: 'CLI-1',
      status: 'COMPLETED',
      price: '4.10',
    });
    const refused = await cli(['settlement', 'run', '--type', 'WEEKLY', '--series', 'CLI-1']);
    expect(refused.code).toBe(3);
    expect(refused.output).toContain('VALIDATION_FAILED');
  });

  it('recon run and breaks list', async () => {
    const recon = await cli(['recon', 'run']);
    expect(recon.code, recon.output).toBe(0);
    expect(recon.output).toMatch(/LEDGER_SUM\s+\d+\s+\d+\s+0/);
    expect(recon.output).toContain('0 open difference(s)');
    expect((await cli(['breaks', 'list'])).output.trim()).toBe('no breaks');
    expect(JSON.parse((await cli(['breaks', 'list', '--json'])).output)).toEqual([]);
  });

  it('statements export, to stdout or a file', async () => {
    const res = await cli(['statements', 'export', '--member', a.id, '--date', DAY]);
    expect(res.code, res.output).toBe(0);
    expect(res.output).toContain('VARIATION_MARGIN');
    const file = join(dir, 'statement.csv');
    expect((await cli(['statements', 'export', '--member', a.id, '--date', DAY, '--out', file])).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toContain('VARIATION_MARGIN');
    expect((await cli(['statements', 'export', '--member', a.id])).code).toBe(2);
  });

  it('payments export and bank-statement import', async () => {
    const w = await a.client.post<{ id: string }>(`/v1/members/${a.id}/withdrawals`, { amount: '10.00', currency: 'CNY' });
    await t.clearing.post(`/v1/withdrawals/${w.body.id}/approve`, {});
    const day = t.app.get(Clock).businessDate();
    const pain = await cli(['payments', 'export', '--date', day, '--format', 'pain001']);
    expect(pain.code, pain.output).toBe(0);
    expect(pain.output).toContain('<InstdAmt Ccy="CNY">10.00</InstdAmt>');
    const none = await cli(['payments', 'export', '--date', '2020-01-01']);
    expect(none.code).toBe(3);
    expect(none.output).toContain('NO_PAYMENTS');

    const file = join(dir, 'statement.csv');
    writeFileSync(file, `bookingDate,direction,amount,currency,endToEndId,bankRef\n${day},CRDT,7.00,CNY,WHO-KNOWS,BKCLI1\n`);
    const imported = await cli(['bank-statement', 'import', file]);
    expect(imported.code, imported.output).toBe(0);
    expect(imported.output).toMatch(/BKCLI1\s+CRDT\s+7\.00\s+WHO-KNOWS\s+UNMATCHED/);
    expect(imported.output).toContain('1 entries, 0 matched, 1 to investigate');
    expect((await cli(['bank-statement', 'import', file])).output).toContain('already imported');
    expect((await cli(['breaks', 'list', '--type', 'BANK_STATEMENT'])).output).toContain('UNMATCHED');

    const report = join(dir, 'pain002.xml');
    writeFileSync(
      report,
      readFileSync(join(ROOT, 'test/fixtures/iso20022/pain002-rjct-acsc.xml'), 'utf8').replace('ICBC-PSR-20261125-01', 'ICBC-PSR-CLI'),
    );
    const statuses = await cli(['payment-status', 'import', report]);
    expect(statuses.code, statuses.output).toBe(0);
    expect(statuses.output).toMatch(/TC20261125A1B2C3D4E5F6A7B8C9D0E1F2\s+RJCT\s+AC04\s+\S*\s*UNKNOWN/);
    expect(statuses.output).toContain('status report ICBC-PSR-CLI: 2 transaction(s)');
    expect((await cli(['payment-status', 'import', report])).output).toContain('already imported');
    expect((await cli(['payment-status', 'import'])).code).toBe(2);
  });

  it('exits 3 when the API is unreachable', async () => {
    const res = await cli(['recon', 'run', '--api', 'http://127.0.0.1:1']);
    expect(res.code).toBe(3);
    expect(res.output).toContain('cannot reach');
  });
});
