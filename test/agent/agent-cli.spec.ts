import { describe, expect, it } from 'vitest';
import { AGENT } from '../harness/delivery-fixtures.js';
import { assertBuilt, childEnv, spawnNode } from '../harness/processes.js';

const NODE = '7b1b411a-1b17-4abf-943a-13ffec0ec496';
const base = [AGENT, '--api', 'http://127.0.0.1:9', '--node', NODE, '--inference-url', 'http://127.0.0.1:9/v1'];

describe('agent command line, as a process', () => {
  it.each([['--inference-key', 'sk-on-argv'], ['--inference-key=sk-on-argv']])(
    'refuses %s on argv (exit 64) and says where the key goes instead, without echoing it',
    async (...flag) => {
      assertBuilt();
      const a = spawnNode([...base, ...flag], childEnv({ TOKENCLEAR_NODE_TOKEN: 'tcn_x' }));
      expect(await a.exited).toBe(64);
      expect(a.output()).toMatch(
        /^--inference-key is refused: a key on the command line is visible to every user in ps\. Put it in TOKENCLEAR_INFERENCE_KEY or in a file named by --inference-key-file\n/,
      );
      expect(a.output()).not.toContain('sk-on-argv');
    },
  );

  it('--help prints the usage on stdout and exits 0', async () => {
    const a = spawnNode([AGENT, '--help'], childEnv({}));
    expect(await a.exited).toBe(0);
    expect(a.output()).toMatch(/^usage: npm run agent -- /);
    expect(a.output()).toContain('--inference-key-file');
  });
});
