import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { expire, physicalMarket, startAgent, submitJob, waitFor, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import { assertBuilt, type Spawned } from '../harness/processes.js';
import { RedisProcess } from '../harness/redis-process.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

describe('Redis killed and restarted while jobs are being dispatched', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  let redis: RedisProcess;
  const agents: Spawned[] = [];

  beforeAll(async () => {
    assertBuilt();
    redis = await RedisProcess.start();
    t = await startTestApp({ redisUrl: redis.url, env: { DELIVERY_STALE_MS: '1000', DELIVERY_REAP_MS: '200', DELIVERY_LEASE_MS: '3000' } });
    m = await physicalMarket(t, {
      operators: 1,
      nodesPerOperator: 2,
      buyers: 1,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
    });
    await expire(t, m);
    for (const n of m.operators[0].nodes) agents.push(startAgent(t, n));
  }, 60_000);
  afterAll(async () => {
    for (const a of agents) a.child.kill('SIGKILL');
    await t.close();
    await redis.kill();
  });

  it('loses no job and meters none twice', async () => {
    const ids: string[] = [];
    const submit = async (i: number) => {
      const res = await submitJob(m.buyers[0], m.series, 30, `outage ${i}`);
      expect(res.status, res.text).toBe(201); // Postgres + outbox only: Redis is not needed to accept
      ids.push(res.body.id);
    };
    for (let i = 0; i < 20; i++) await submit(i);
    await redis.kill();
    for (let i = 20; i < 40; i++) await submit(i);
    await new Promise((r) => setTimeout(r, 1_500));
    await redis.up();
    for (let i = 40; i < 60; i++) await submit(i);

    await waitFor(
      'all jobs completed',
      async () => (await t.prisma.deliveryJob.count({ where: { id: { in: ids }, status: 'COMPLETED' } })) === ids.length,
      90_000,
    );
    expect(await t.prisma.usageRecord.count({ where: { jobId: { in: ids } } })).toBe(ids.length);
    const o = await t.prisma.deliveryObligation.findFirstOrThrow({ where: { seriesId: m.seriesId } });
    const billable = (await t.prisma.usageRecord.aggregate({ where: { jobId: { in: ids } }, _sum: { billableTokens: true } }))._sum
      .billableTokens!;
    expect(o.deliveredTokens).toBe(billable);
    const released =
      (await t.prisma.transfer.aggregate({ where: { obligationId: o.id, kind: 'ESCROW_RELEASE' }, _sum: { amountFen: true } }))._sum
        .amountFen ?? 0n;
    expect(released).toBe((40_000n * billable) / 1_000_000n);
    await expectLedgerConsistent(t.prisma);
  }, 120_000);
});
