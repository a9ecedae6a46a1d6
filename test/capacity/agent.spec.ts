import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataCenter, createNode, type TestNode } from '../harness/capacity-factories.js';
import { createMember } from '../harness/factories.js';
import { assertBuilt, childEnv, ROOT, spawnNode, type Spawned } from '../harness/processes.js';
import { freePort } from '../harness/redis-process.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

const AGENT = `${ROOT}/dist/agent/main.js`;
const HEARTBEAT_MS = 600; // sweep period; offline after 3 × 600 ms

describe('node agent as a real process', () => {
  let t: TestApp;
  let node: TestNode;
  const agents: Spawned[] = [];

  const startAgent = (api: string, extra: string[] = []) => {
    const a = spawnNode(
      [AGENT, '--api', api, '--node', node.id, '--simulate', '--rate', '0', '--heartbeat-ms', '150', ...extra],
      childEnv({ TOKENCLEAR_NODE_TOKEN: node.nodeToken }),
    );
    agents.push(a);
    return a;
  };
  const nodeRow = () => t.prisma.node.findUniqueOrThrow({ where: { id: node.id } });
  const waitForStatus = async (status: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = await nodeRow();
      if (row.status === status) return row;
      if (Date.now() > deadline) throw new Error(`node still ${row.status}, wanted ${status}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  beforeAll(async () => {
    assertBuilt();
    t = await startTestApp({ env: { HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS) } });
    const op = await createMember(t, 'OPERATOR');
    node = await createNode(op, await createDataCenter(op));
  });
  afterAll(async () => {
    for (const a of agents) a.child.kill('SIGKILL');
    await t.close();
  });

  it('brings its node ONLINE, says it is simulating, goes OFFLINE within timeout + one sweep after kill -9, and back ONLINE on restart', async () => {
    const agent = startAgent(t.baseUrl);
    await waitForStatus('ONLINE', 10_000);
    expect(agent.output()).toContain('SIMULATING inference');

    agent.child.kill('SIGKILL');
    await agent.exited;
    const offline = await waitForStatus('OFFLINE', 10_000);
    const last = (await t.prisma.node.findUniqueOrThrow({ where: { id: node.id } })).lastHeartbeatAt!;
    // The sweep ran at most one period after the silence passed 3 × interval (+ scheduling slack).
    const silence = offline.updatedAt.getTime() - last.getTime();
    expect(silence).toBeGreaterThanOrEqual(3 * HEARTBEAT_MS);
    // Allowance for a busy CI box to run the repeatable job: one extra second.
    expect(silence).toBeLessThanOrEqual(3 * HEARTBEAT_MS + HEARTBEAT_MS + 1_000);

    const again = startAgent(t.baseUrl);
    await waitForStatus('ONLINE', 10_000);
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
    expect(again.output()).toContain('agent stopped');
  }, 40_000);

  it('keeps trying with backoff while the API is down, and exits cleanly on SIGTERM', { timeout: 30_000 }, async () => {
    const agent = startAgent(`http://127.0.0.1:${await freePort()}`);
    const failuresSoFar = () =>
      agent
        .output()
        .split('\n')
        .filter((l) => l.includes('heartbeat failed; retrying'));
    // Evidence, not a fixed sleep: a loaded machine may take a while to start the process.
    const deadline = Date.now() + 15_000;
    while (failuresSoFar().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const failures = failuresSoFar();
    expect(failures.length).toBeGreaterThanOrEqual(3);
    const waits = failures.map((l) => (JSON.parse(l) as { retryInMs: number }).retryInMs);
    expect(waits[1]).toBeGreaterThan(waits[0]); // backing off
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
  });

  it('refuses a bad command line, naming the flag', async () => {
    const a = spawnNode([AGENT, '--api', t.baseUrl, '--node', node.id, '--token', 'tcn_x'], childEnv({}));
    expect(await a.exited).toBe(64);
    expect(a.output()).toMatch(/one of --inference-url or --simulate is required/);
  });
});

// The machines this project runs on ship an end-of-life Node 20 as /usr/bin/node while the suite
// runs on Node 24: the agent, started by that old Node, must refuse with one clear line.
const OLD_NODE = '/usr/bin/node';
const oldNodeVersion = (() => {
  try {
    return execFileSync(OLD_NODE, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
})();

describe.runIf(oldNodeVersion !== undefined && Number(oldNodeVersion.split('.')[0]) < 22)('node agent on an old Node.js', () => {
  it(`refuses Node ${oldNodeVersion} with a clear message and exit code 69`, () => {
    assertBuilt();
    const run = spawnSync(OLD_NODE, [AGENT, '--api', 'http://127.0.0.1:9', '--node', 'n', '--token', 't', '--simulate'], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(69);
    expect(run.stderr.trim()).toBe(
      `tokenclear agent: Node.js ${oldNodeVersion} is not supported; install Node.js 24 LTS (or 22 from 22.12.0) and run the agent again`,
    );
    expect(run.stdout).toBe('');
  });
});
