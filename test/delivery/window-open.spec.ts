import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../src/platform/time/clock.js';
import { expire, physicalMarket, submitJob, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

describe('jobs called off before the delivery window opens', () => {
  let t: TestApp;
  let m: PhysicalMarket;

  beforeAll(async () => {
    t = await startTestApp({ env: { DELIVERY_STALE_MS: '1000', DELIVERY_REAP_MS: '100' } });
    m = await physicalMarket(t, {
      operators: 1,
      nodesPerOperator: 1,
      buyers: 1,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
      deliveryDelayMs: 30 * 60_000,
    });
    await expire(t, m); // one minute after last trading: the window opens 29 minutes later
  });
  afterAll(() => t.close());

  it('wait in the queue and reach a node only once the window is open', async () => {
    const node = t.client(m.operators[0].nodes[0].nodeToken);
    const lease = (waitSeconds: number) =>
      node.post<{ jobs: { id: string }[] }>(`/v1/nodes/${m.operators[0].nodes[0].id}/lease`, { waitSeconds });
    const job = await submitJob(m.buyers[0], m.series, 100, 'early');
    expect(job.status, job.text).toBe(201);
    expect((await lease(2)).body.jobs).toEqual([]);
    expect(await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: job.body.id } })).toMatchObject({ status: 'QUEUED', nodeId: null });

    t.app.get(Clock).set(new Date(m.deliveryStart.getTime() + 1_000));
    const leased = await lease(5);
    expect(leased.body.jobs.map((j) => j.id)).toEqual([job.body.id]);
  });
});
