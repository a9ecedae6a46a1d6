import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { expiredMarket, startAgent, submitJob, waitFor, type JobView, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import type { Spawned } from '../harness/processes.js';
import type { TestApp } from '../harness/test-app.js';

/**
 * SPEC §6.2 with §6.4: a suspended operator's agent is refused at once, the jobs it held go back
 * to dispatch, and — its obligations bought in from a standby operator — they complete there,
 * each metered exactly once.
 */
describe("a suspended operator's jobs complete elsewhere", () => {
  let t: TestApp;
  let m: PhysicalMarket;
  const agents: Spawned[] = [];
  const job = async (id: string) => (await m.buyers[0].client.get<JobView>(`/v1/delivery/jobs/${id}`)).body;

  beforeAll(async () => {
    ({ t, m } = await expiredMarket(
      {
        HEARTBEAT_INTERVAL_MS: '300',
        DELIVERY_STALE_MS: '1000',
        DELIVERY_REAP_MS: '100',
        DELIVERY_LEASE_MS: '3000',
        LOG_LEVEL: 'error',
      },
      {
        operators: 2,
        nodesPerOperator: 1,
        buyers: 1,
        trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
      },
    ));
  });
  afterAll(async () => {
    for (const a of agents) a.child.kill('SIGKILL');
    await t.close();
  });

  it('refused 403 MEMBER_SUSPENDED, its leases returned, the jobs delivered by the standby operator once', async () => {
    const [op0, op1] = m.operators;
    const buyer = m.buyers[0];
    const offer = await op1.member.client.post('/v1/standby-offers', {
      modelClass: 'llm-70b-instruct',
      regions: ['cn-east-1'],
      tokens: 2_000_000,
      premiumBp: 300,
    });
    expect(offer.status, offer.text).toBe(201);

    // The seller's agent takes three slow jobs (200 tokens at 20 tokens/s: 10 s each).
    const a0 = startAgent(t, op0.nodes[0], ['--simulate', '--rate', '20', '--concurrency', '4']);
    agents.push(a0);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await submitJob(buyer, m.series, 200, `slow ${i}`)).body.id);
    await waitFor('the seller to hold the jobs', async () => (await Promise.all(ids.map(job))).every((j) => j.status === 'LEASED'), 20_000);

    // Suspended: its node is refused and its leases come back at once (not after the lease period).
    expect((await t.clearing.patch(`/v1/members/${op0.member.id}`, { status: 'SUSPENDED' })).status).toBe(200);
    await waitFor('the jobs back at dispatch', async () => (await Promise.all(ids.map(job))).every((j) => j.status !== 'LEASED'), 10_000);
    const hb = await t.client(op0.nodes[0].nodeToken).post(`/v1/nodes/${op0.nodes[0].id}/heartbeat`, {});
    expect(hb.status).toBe(403);
    expect(hb.body).toMatchObject({ code: 'MEMBER_SUSPENDED' });

    // Clearing buys the obligation in from the standby operator; its node delivers the jobs.
    const [original] = (await buyer.client.get<{ items: { id: string }[] }>('/v1/obligations')).body.items;
    const buyIn = await t.clearing.post<{ substitutes: { obligationId: string; sellerId: string }[] }>(
      `/v1/obligations/${original.id}/buy-in`,
      {},
    );
    expect(buyIn.status, buyIn.text).toBe(200);
    expect(buyIn.body.substitutes[0]).toMatchObject({ sellerId: op1.member.id });
    agents.push(startAgent(t, op1.nodes[0]));
    for (const id of ids) {
      await waitFor(`job ${id} delivered elsewhere`, async () => (await job(id)).status === 'COMPLETED', 30_000);
      expect(await job(id)).toMatchObject({ nodeId: op1.nodes[0].id, obligationId: buyIn.body.substitutes[0].obligationId });
    }
    // Exactly once: one usage record per job, none from the suspended operator's node.
    const usage = await t.prisma.usageRecord.findMany({ where: { jobId: { in: ids } } });
    expect(usage.map((u) => u.nodeId).sort()).toEqual(ids.map(() => op1.nodes[0].id));
    expect(a0.output()).toContain('MEMBER_SUSPENDED');
    await expectLedgerConsistent(t.prisma);
  });
});
