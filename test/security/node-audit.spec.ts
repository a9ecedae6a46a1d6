import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  completionOf,
  expire,
  physicalMarket,
  submitJob,
  waitFor,
  type LeasedJob,
  type PhysicalMarket,
} from '../harness/delivery-fixtures.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

/** SPEC §6.2: every state change is audited — node leases, completions and failures included. */
describe('node agents in the audit trail', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  beforeAll(async () => {
    t = await startTestApp();
    m = await physicalMarket(t, {
      operators: 1,
      nodesPerOperator: 1,
      buyers: 1,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
    });
    await expire(t, m);
  });
  afterAll(() => t.close());

  it('a lease that took work, a completion report and a failure each leave a chained audit row naming the operator', async () => {
    const [node] = m.operators[0].nodes;
    const client = t.client(node.nodeToken);
    const audit = (action: string) => t.prisma.auditEvent.findMany({ where: { action }, orderBy: { createdAt: 'asc' } });
    // An empty long-poll changes nothing and writes nothing.
    expect((await client.post(`/v1/nodes/${node.id}/lease`, { maxJobs: 2, waitSeconds: 0 })).status).toBe(200);
    expect(await audit('delivery.lease')).toHaveLength(0);

    for (const content of ['ok', 'ok']) expect((await submitJob(m.buyers[0], m.series, 100, content)).status).toBe(201);
    const jobs = await waitFor('two jobs leased', async () => {
      const res = await client.post<{ jobs: LeasedJob[] }>(`/v1/nodes/${node.id}/lease`, { maxJobs: 2, waitSeconds: 1 });
      return res.body.jobs.length > 0 ? res.body.jobs : undefined;
    });
    const [done, failed] = jobs.length === 2 ? jobs : [jobs[0], undefined];
    const report = await client.post(`/v1/nodes/${node.id}/completions`, { completions: [completionOf(done)] });
    expect(report.status, report.text).toBe(200);
    if (failed) {
      const res = await client.post(`/v1/delivery/jobs/${failed.id}/fail`, {
        leaseToken: failed.leaseToken,
        reason: 'HTTP: 503',
        retryable: false,
      });
      expect(res.status, res.text).toBe(200);
    }

    const [lease] = await audit('delivery.lease');
    expect(lease).toMatchObject({
      actorMemberId: m.operators[0].member.id,
      role: 'node',
      targetType: 'node',
      targetId: node.id,
      outcome: 'SUCCESS',
    });
    expect(await audit('delivery.completions')).toEqual([
      expect.objectContaining({
        targetId: node.id,
        actorMemberId: m.operators[0].member.id,
        requestId: report.headers.get('x-request-id'),
      }),
    ]);
    // Written with the completions it covers: a report that changes nothing (a replay) writes none.
    const replay = await client.post<{ items: { replayed: boolean }[] }>(`/v1/nodes/${node.id}/completions`, {
      completions: [completionOf(done)],
    });
    expect(replay.body.items).toEqual([expect.objectContaining({ replayed: true })]);
    expect(await audit('delivery.completions')).toHaveLength(1);
    if (failed)
      expect(await audit('delivery.fail')).toEqual([expect.objectContaining({ targetType: 'delivery-job', targetId: failed.id })]);
    // Chained like every other event: the reconciliation's AUDIT_CHAIN check stays clean.
    const run = await t.clearing.post<{ checks: { name: string; differences: number }[] }>('/v1/reconciliation/runs', {});
    expect(run.body.checks.find((c) => c.name === 'AUDIT_CHAIN')).toMatchObject({ differences: 0 });
  });
});
