import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClearingUser, createMember, type TestMember } from '../harness/factories.js';
import { fund } from '../harness/market-factories.js';
import { assertBuilt, childEnv, ROOT, spawnNode } from '../harness/processes.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

const CLI = `${ROOT}/dist/cli/main.js`;

describe('CLI: defaults list|show|propose|approve', () => {
  let t: TestApp;
  let member: TestMember;
  const cli = async (args: string[], key = t.clearingKey) => {
    const p = spawnNode([CLI, ...args], childEnv({ TOKENCLEAR_API: t.baseUrl, TOKENCLEAR_KEY: key }));
    const code = await p.exited;
    return { code, output: p.output() };
  };

  beforeAll(async () => {
    assertBuilt();
    t = await startTestApp({ env: { DEFAULT_AUCTION_SECONDS: '1', LOG_LEVEL: 'error' } });
    member = await createMember(t, 'TRADER');
    await fund(t, member, '10.00');
  });
  afterAll(() => t.close());

  it('a maker proposes, the same person is refused, another person approves; list and show follow it', async () => {
    expect((await cli(['defaults', 'propose', '--member', member.id])).code).toBe(2); // --reason missing
    const proposed = await cli(['defaults', 'propose', '--member', member.id, '--reason', 'unpaid call', '--json']);
    expect(proposed.code, proposed.output).toBe(0);
    const id = (JSON.parse(proposed.output) as { id: string }).id;
    const self = await cli(['defaults', 'approve', id]);
    expect(self.code).toBe(3);
    expect(self.output).toContain('SELF_APPROVAL');
    const checker = await createClearingUser(t);
    const approved = await cli(['defaults', 'approve', id], checker.key);
    expect(approved.code, approved.output).toBe(0);
    expect(approved.output).toContain('AUCTION');
    const list = await cli(['defaults', 'list']);
    expect(list.code, list.output).toBe(0);
    expect(list.output).toContain(member.id);
    let shown = '';
    for (let i = 0; i < 50 && !shown.includes('COMPLETED'); i++) {
      shown = (await cli(['defaults', 'show', id])).output;
      if (!shown.includes('COMPLETED')) await new Promise((r) => setTimeout(r, 200));
    }
    expect(shown).toContain(`default ${id} of member ${member.id}: COMPLETED`);
    expect(shown).toContain('loss 0 fen');
  });
});
