import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem } from '../harness/factories.js';
import { assertBuilt, type Spawned } from '../harness/processes.js';
import {
  completionOf,
  expire,
  physicalMarket,
  startAgent,
  submitJob,
  waitFor,
  type LeasedJob,
  type PhysicalMarket,
} from '../harness/delivery-fixtures.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

/**
 * SPEC §6.2: a suspended member's nodes are refused and their leases go back to dispatch at once —
 * not when the lease would have expired (60 s here), and never to the suspended operator's nodes.
 */
describe('suspension returns leases', () => {
  let t: TestApp;
  let m: PhysicalMarket;

  beforeAll(async () => {
    t = await startTestApp({ env: { DELIVERY_LEASE_MS: '60000', DELIVERY_REAP_MS: '200' } });
    m = await physicalMarket(t, {
      operators: 1,
      nodesPerOperator: 1,
      buyers: 1,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
    });
    await expire(t, m);
  });
  afterAll(() => t.close());

  it('a suspended operator’s leased jobs go back to dispatch at once; its node is refused; they complete after reinstatement', async () => {
    const [op, buyer] = [m.operators[0].member, m.buyers[0]];
    const nodeInfo = m.operators[0].nodes[0];
    const node = t.client(nodeInfo.nodeToken);
    const ids = [(await submitJob(buyer, m.series, 10, 'a')).body.id, (await submitJob(buyer, m.series, 10, 'b')).body.id];
    const leased: LeasedJob[] = [];
    await waitFor('both jobs leased', async () => {
      const res = await node.post<{ jobs: LeasedJob[] }>(`/v1/nodes/${nodeInfo.id}/lease`, { maxJobs: 10, waitSeconds: 1 });
      leased.push(...res.body.jobs);
      return leased.length >= 2;
    });

    const started = Date.now();
    const suspended = await t.clearing.patch(`/v1/members/${op.id}`, { status: 'SUSPENDED' });
    expect(suspended.status, suspended.text).toBe(200);
    await waitFor(
      'the leases to come back',
      async () => {
        const rows = await t.prisma.deliveryJob.findMany({ where: { id: { in: ids } } });
        return rows.every((r) => r.status !== 'LEASED' && JSON.stringify(r.decisions).includes('MEMBER_SUSPENDED'));
      },
      10_000,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    const rows = await t.prisma.deliveryJob.findMany({ where: { id: { in: ids } } });
    expect(rows.map((r) => [r.status, r.nodeId, r.attempt])).toEqual([
      ['QUEUED', null, 1],
      ['QUEUED', null, 1],
    ]);

    // The node is refused everywhere; its old results cannot land.
    expectProblem(await node.post(`/v1/nodes/${nodeInfo.id}/lease`, { maxJobs: 1 }), 403, 'MEMBER_SUSPENDED');
    expectProblem(
      await node.post(`/v1/nodes/${nodeInfo.id}/completions`, { completions: [completionOf(leased[0])] }),
      403,
      'MEMBER_SUSPENDED',
    );
    // Dispatch does not pick the suspended operator's node again.
    await waitFor('dispatch to find no eligible node', async () => {
      const r = await t.prisma.deliveryJob.findMany({ where: { id: { in: ids } } });
      return r.every((j) => JSON.stringify(j.decisions).includes('NO_ELIGIBLE_NODE'));
    });

    // Reinstated: the jobs are dispatched again and complete.
    expect((await t.clearing.patch(`/v1/members/${op.id}`, { status: 'ACTIVE' })).status).toBe(200);
    await node.post(`/v1/nodes/${nodeInfo.id}/heartbeat`, {});
    const again: LeasedJob[] = [];
    await waitFor(
      'both jobs leased again',
      async () => {
        const res = await node.post<{ jobs: LeasedJob[] }>(`/v1/nodes/${nodeInfo.id}/lease`, { maxJobs: 10, waitSeconds: 1 });
        again.push(...res.body.jobs);
        return again.length >= 2;
      },
      20_000,
    );
    const done = await node.post<{ items: { status: number }[] }>(`/v1/nodes/${nodeInfo.id}/completions`, {
      completions: again.map((j) => completionOf(j)),
    });
    expect(done.body.items.map((i) => i.status)).toEqual([200, 200]);
    // The stale lease of the first attempt is refused as stale.
    const stale = await node.post<{ items: { status: number }[] }>(`/v1/nodes/${nodeInfo.id}/completions`, {
      completions: [completionOf(leased[0])],
    });
    expect(stale.body.items[0].status).toBe(409);
    const finished = await t.prisma.deliveryJob.findMany({ where: { id: { in: ids } } });
    expect(finished.map((j) => [j.status, j.attempt])).toEqual([
      ['COMPLETED', 1],
      ['COMPLETED', 1],
    ]);
  });
});

describe('suspension with a real agent holding leases', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  const agents: Spawned[] = [];

  beforeAll(async () => {
    assertBuilt();
    t = await startTestApp({ env: { DELIVERY_LEASE_MS: '60000', DELIVERY_REAP_MS: '200', HEARTBEAT_INTERVAL_MS: '500' } });
    m = await physicalMarket(t, {
      operators: 1,
      nodesPerOperator: 1,
      buyers: 1,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
    });
    await expire(t, m);
  });
  afterAll(async () => {
    for (const a of agents) a.child.kill('SIGKILL');
    await t.close();
  });

  it('the agent is refused 403 MEMBER_SUSPENDED, its in-flight jobs go back at once and are metered once after reinstatement', async () => {
    const [op, buyer] = [m.operators[0].member, m.buyers[0]];
    const node = m.operators[0].nodes[0];
    // Slow simulated inference: 200 tokens at 40 tokens/s = 5 s a job, so the leases are in hand when the suspension lands.
    const agent = startAgent(t, node, ['--simulate', '--rate', '40', '--concurrency', '4']);
    agents.push(agent);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await submitJob(buyer, m.series, 200, `suspend ${i}`)).body.id);
    await waitFor(
      'the agent to hold leases',
      async () => (await t.prisma.deliveryJob.count({ where: { id: { in: ids }, status: 'LEASED' } })) >= 2,
      20_000,
    );

    expect((await t.clearing.patch(`/v1/members/${op.id}`, { status: 'SUSPENDED' })).status).toBe(200);
    const suspendedAt = Date.now();
    await waitFor(
      'the leases back to dispatch',
      async () => (await t.prisma.deliveryJob.count({ where: { id: { in: ids }, status: { in: ['LEASED', 'DISPATCHED'] } } })) === 0,
      10_000,
    );
    expect(Date.now() - suspendedAt).toBeLessThan(10_000); // the lease (60 s) did not have to run out
    await waitFor('the agent to be refused', async () => agent.output().includes('MEMBER_SUSPENDED'), 10_000);
    // Its results of the first attempts cannot land while suspended.
    await new Promise((r) => setTimeout(r, 6_000));
    expect(await t.prisma.usageRecord.count({ where: { jobId: { in: ids } } })).toBe(0);

    expect((await t.clearing.patch(`/v1/members/${op.id}`, { status: 'ACTIVE' })).status).toBe(200);
    await waitFor(
      'all jobs completed after reinstatement',
      async () => (await t.prisma.deliveryJob.count({ where: { id: { in: ids }, status: 'COMPLETED' } })) === ids.length,
      60_000,
    );
    expect(await t.prisma.usageRecord.count({ where: { jobId: { in: ids } } })).toBe(ids.length);
    const jobs = await t.prisma.deliveryJob.findMany({ where: { id: { in: ids } } });
    expect(jobs.filter((j) => JSON.stringify(j.decisions).includes('MEMBER_SUSPENDED')).length).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
