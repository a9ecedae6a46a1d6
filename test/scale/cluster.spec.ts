import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../src/platform/time/clock.js';
import { expire, physicalMarket, startAgent, submitJob, waitFor, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import { createMember, type TestMember } from '../harness/factories.js';
import { ApiClient } from '../harness/http.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { assertBuilt, type Spawned } from '../harness/processes.js';
import { RedisCluster } from '../harness/redis-cluster.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

/**
 * The service on a Redis Cluster (3 masters + 3 replicas): one copy running both roles, one more
 * API copy and one more worker copy — 2 APIs and 2 workers — with real agent processes on both
 * API copies. Then the master that holds the queues is SIGKILLed mid-delivery.
 */
describe('scale-out on a Redis Cluster: 2 API copies, 2 worker copies', () => {
  let cluster: RedisCluster;
  let a: TestApp;
  let b: TestApp;
  let w: TestApp;
  let m: PhysicalMarket;
  const agents: Spawned[] = [];

  beforeAll(async () => {
    assertBuilt();
    cluster = await RedisCluster.start();
    const env = {
      REDIS_CLUSTER_NODES: cluster.nodesEnv,
      DELIVERY_LEASE_MS: '3000',
      DELIVERY_REAP_MS: '200',
      DELIVERY_STALE_MS: '2000',
      WORKER_LOCK_MS: '3000',
    };
    a = await startTestApp({ env });
    b = await startTestApp({ replicaOf: a, role: 'api', env });
    w = await startTestApp({ replicaOf: a, role: 'worker', env });
  }, 120_000);

  afterAll(async () => {
    for (const ag of agents) ag.child.kill('SIGKILL');
    await w?.close();
    await b?.close();
    await a?.close();
    await cluster?.stop();
  });

  const on = (t: TestApp, member: TestMember) => new ApiClient(t.baseUrl, member.key);

  it('matches orders sent to both API copies once each; the queues live on the cluster, not on the local Redis', async () => {
    const x = await createMember(a, 'TRADER');
    const y = await createMember(a, 'TRADER');
    await fund(a, x, '10000.00');
    await fund(a, y, '10000.00');
    const series = await createSeries(a, await createProduct(a));
    for (let i = 0; i < 10; i++) {
      const [seller, buyer] = i % 2 === 0 ? [a, b] : [b, a];
      const sell = await on(seller, x).post<{ id: string }>('/v1/orders', {
        series,
        side: 'SELL',
        price: '4.00',
        quantity: 1,
        timeInForce: 'GTC',
      });
      expect(sell.status, sell.text).toBe(201);
      const buy = await on(buyer, y).post<{ filledQuantity: number }>('/v1/orders', {
        series,
        side: 'BUY',
        price: '4.00',
        quantity: 1,
        timeInForce: 'GTC',
      });
      expect(buy.status, buy.text).toBe(201);
      expect(buy.body.filledQuantity).toBe(1);
    }
    // One more through the factory (the first copy), to cover the common helper path.
    expect((await order(x, series, 'SELL', '4.01', 1)).status).toBe(201);
    const { id: seriesId } = await a.prisma.series.findUniqueOrThrow({ where: { code: series } });
    const trades = await a.prisma.trade.count({ where: { seriesId } });
    expect(trades).toBe(10);
    await expectLedgerConsistent(a.prisma);

    // The outbox relay's jobs went to the cluster: keys under the prefix there, none on the local Redis.
    const local = new Redis(a.config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await local.connect();
      expect(await local.keys(`${a.config.queuePrefix}*`)).toEqual([]);
    } finally {
      local.disconnect();
    }
    const seed = new Redis(await cluster.masterOf(a.config.queuePrefix), '127.0.0.1');
    try {
      expect((await seed.keys(`${a.config.queuePrefix}*`)).length).toBeGreaterThan(0);
    } finally {
      seed.disconnect();
    }
  });

  it('delivers through real agents on both API copies: every job metered once, every fen accounted for', async () => {
    m = await physicalMarket(a, {
      operators: 2,
      nodesPerOperator: 1,
      buyers: 2,
      trades: [
        { seller: ['op', 0], buyer: ['buyer', 0], quantity: 2 },
        { seller: ['op', 1], buyer: ['buyer', 1], quantity: 2 },
      ],
    });
    // Each copy keeps its own (test) clock: all of them past last trading.
    const past = new Date(m.lastTradingAt.getTime() + 60_000);
    for (const t of [b, w]) t.app.get(Clock).set(past);
    await expire(a, m);
    agents.push(startAgent(a, m.operators[0].nodes[0]), startAgent(b, m.operators[1].nodes[0]));

    const ids = await submit(60);
    await waitFor('all jobs completed', async () => (await completed(ids)) === ids.length, 90_000);
    await expectMeteredOnce(ids);
  }, 150_000);

  it('survives a SIGKILL of the master holding the queues mid-delivery: each job completes exactly once, the ledger sums to zero', async () => {
    const ids = await submit(120);
    await waitFor('some jobs completed', async () => (await completed(ids)) >= 20, 60_000);
    const victim = await cluster.masterOf(a.config.queuePrefix);
    await cluster.kill(victim);
    await cluster.waitFailover(victim);
    expect(await cluster.masterOf(a.config.queuePrefix)).not.toBe(victim);
    // What was queued on the dead master and not yet copied to its replica is rebuilt from Postgres
    // (the reaper re-queues stale DISPATCHED/QUEUED jobs).
    await waitFor('all jobs completed after the failover', async () => (await completed(ids)) === ids.length, 120_000);
    await expectMeteredOnce(ids);
  }, 240_000);

  async function submit(n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const buyer = m.buyers[i % 2];
      const res = await submitJob({ ...buyer, client: on(i % 2 === 0 ? a : b, buyer) }, m.series, 20 + (i % 5) * 10, `cluster job ${i}`);
      expect(res.status, res.text).toBe(201);
      ids.push(res.body.id);
    }
    return ids;
  }

  function completed(ids: string[]): Promise<number> {
    return a.prisma.deliveryJob.count({ where: { id: { in: ids }, status: 'COMPLETED' } });
  }

  async function expectMeteredOnce(ids: string[]): Promise<void> {
    const usage = await a.prisma.usageRecord.findMany({ where: { jobId: { in: ids } } });
    expect(usage).toHaveLength(ids.length);
    expect(new Set(usage.map((u) => u.jobId)).size).toBe(ids.length);
    const paid = await a.prisma.transfer.count({ where: { kind: 'ESCROW_RELEASE', jobId: { in: ids } } });
    expect(paid).toBeLessThanOrEqual(ids.length);
    await expectLedgerConsistent(a.prisma);
  }
});
