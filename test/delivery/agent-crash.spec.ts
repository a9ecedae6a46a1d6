import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { expiredMarket, startAgent, submitJob, waitFor, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import { assertBuilt, type Spawned } from '../harness/processes.js';
import type { TestApp } from '../harness/test-app.js';

describe('kill -9 of an agent holding leases', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  const agents: Spawned[] = [];

  beforeAll(async () => {
    assertBuilt();
    ({ t, m } = await expiredMarket(
      { DELIVERY_LEASE_MS: '1500', DELIVERY_REAP_MS: '100', HEARTBEAT_INTERVAL_MS: '500' },
      {
        operators: 1,
        nodesPerOperator: 2,
        buyers: 1,
        trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
      },
    ));
  });
  afterAll(async () => {
    for (const a of agents) a.child.kill('SIGKILL');
    await t.close();
  });

  it('sends its jobs to the other node; every job is metered once and no token is paid twice', async () => {
    const [op, buyer] = [m.operators[0].member, m.buyers[0]];
    const [n0, n1] = m.operators[0].nodes;
    // Only node 0 takes work at first: slow simulated inference (40 tokens at 5 tokens/s = 8 s, so
    // on a loaded machine none of its jobs can finish between the count of its leases and the kill).
    expect((await op.client.patch(`/v1/nodes/${n1.id}`, { status: 'DRAINING' })).status).toBe(200);
    const since = new Date();
    const victim = startAgent(t, n0, ['--simulate', '--rate', '5', '--concurrency', '4']);
    agents.push(victim);
    // Node 1's agent runs from the start: DRAINING, it gets no work, but its heartbeats keep it
    // from being swept OFFLINE while node 0 works (an OFFLINE node cannot be set ONLINE by its
    // operator, 409 NODE_OFFLINE — on a loaded machine that failed this test).
    agents.push(startAgent(t, n1));
    // Both agents heard from before any job exists: a node silent while its agent process starts
    // (seconds on a loaded machine) is swept OFFLINE, and jobs submitted meanwhile back off
    // exponentially waiting for one — past this test's patience.
    await waitFor(
      'both agents heartbeating',
      async () => {
        const nodes = await t.prisma.node.findMany({ where: { id: { in: [n0.id, n1.id] } } });
        return (
          nodes.every((n) => n.lastHeartbeatAt !== null && n.lastHeartbeatAt >= since) &&
          nodes.find((n) => n.id === n0.id)!.status === 'ONLINE'
        );
      },
      20_000,
    );
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await submitJob(buyer, m.series, 40, `crash ${i}`)).body.id);
    await waitFor(
      'node 0 to hold leases',
      async () => (await t.prisma.deliveryJob.count({ where: { nodeId: n0.id, status: 'LEASED' } })) >= 3,
      20_000,
    );
    const leasedByVictim = (await t.prisma.deliveryJob.findMany({ where: { nodeId: n0.id, status: 'LEASED' }, select: { id: true } })).map(
      (j) => j.id,
    );

    victim.child.kill('SIGKILL');
    await victim.exited;
    expect((await op.client.patch(`/v1/nodes/${n1.id}`, { status: 'ONLINE' })).status).toBe(200);

    await waitFor(
      'all jobs completed',
      async () => (await t.prisma.deliveryJob.count({ where: { id: { in: ids }, status: 'COMPLETED' } })) === ids.length,
      60_000,
    );
    const usage = await t.prisma.usageRecord.findMany({ where: { jobId: { in: ids } } });
    expect(usage).toHaveLength(ids.length);
    for (const id of leasedByVictim) {
      const job = await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id } });
      expect(usage.find((u) => u.jobId === id)!.nodeId).toBe(n1.id);
      expect(job.attempt).toBeGreaterThanOrEqual(1);
      expect(JSON.stringify(job.decisions)).toMatch(/LEASE_EXPIRED|NODE_OFFLINE/);
    }
    // Exactly once in money: at most one release per job, and all releases together are what the
    // delivered tokens are worth at the obligation price (cumulative, rounded down).
    const o = await t.prisma.deliveryObligation.findFirstOrThrow({ where: { seriesId: m.seriesId } });
    const billable = usage.reduce((s, u) => s + u.billableTokens, 0n);
    expect(o.deliveredTokens).toBe(billable);
    const releases = await t.prisma.transfer.findMany({ where: { obligationId: o.id, kind: 'ESCROW_RELEASE' } });
    expect(new Set(releases.map((r) => r.jobId)).size).toBe(releases.length);
    expect(releases.reduce((s, r) => s + r.amountFen, 0n)).toBe((40_000n * billable) / 1_000_000n);
    await expectLedgerConsistent(t.prisma);
  }, 90_000);
});
