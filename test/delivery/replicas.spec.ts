import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { completionOf, expire, physicalMarket, waitFor, type LeasedJob, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';
import { Clock } from '../../src/platform/time/clock.js';

const JOBS = 100;

/**
 * Two copies of the service on one database and one Redis, as replicas behind a load balancer:
 * their submission and completion batches read the same obligation unlocked and race when they
 * write. A batch that raced is applied again item by item under locks; the figures must come out
 * as if one process had done it all.
 */
describe('two copies of the service on one obligation', () => {
  let a: TestApp;
  let b: TestApp;
  let m: PhysicalMarket;

  beforeAll(async () => {
    a = await startTestApp();
    m = await physicalMarket(a, {
      operators: 1,
      nodesPerOperator: 1,
      buyers: 1,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
    });
    await expire(a, m);
    b = await startTestApp({ replicaOf: a });
    // The tests' service clock was moved past last trading in the first copy: the same time here.
    b.app.get(Clock).set(a.app.get(Clock).now());
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('submits and completes through both at once: each job reserved and metered once, every fen exact', async () => {
    const buyerKey = m.buyers[0].key;
    const node = m.operators[0].nodes[0];
    const copies = [a, b];
    const batch = () => ({
      jobs: Array.from({ length: 25 }, () => ({
        series: m.series,
        modelClass: 'llm-70b-instruct',
        messages: [{ role: 'user', content: 'ok' }],
        maxTokens: 200,
      })),
    });
    const submitted = await Promise.all(
      [0, 1, 2, 3].map((n) => copies[n % 2].client(buyerKey).post<{ items: { status: number }[] }>('/v1/delivery/jobs/batch', batch())),
    );
    expect(submitted.flatMap((r) => r.body.items.map((i) => i.status))).toEqual(Array(JOBS).fill(201));
    const obligation = () => a.prisma.deliveryObligation.findFirstOrThrow({ where: { seriesId: m.seriesId } });
    expect((await obligation()).reservedTokens).toBe(BigInt(JOBS * 200));

    const leased: LeasedJob[] = [];
    await waitFor(
      'every job leased',
      async () => {
        const res = await a
          .client(node.nodeToken)
          .post<{ jobs: LeasedJob[] }>(`/v1/nodes/${node.id}/lease`, { maxJobs: 64, waitSeconds: 1 });
        leased.push(...res.body.jobs);
        return leased.length === JOBS;
      },
      20_000,
    );

    // Ten reports of ten at once, alternating between the copies.
    const reports = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        copies[i % 2].client(node.nodeToken).post<{ items: { status: number; replayed: boolean }[] }>(`/v1/nodes/${node.id}/completions`, {
          completions: leased.slice(i * 10, i * 10 + 10).map((j) => completionOf(j)),
        }),
      ),
    );
    expect(reports.flatMap((r) => r.body.items.map((i) => [i.status, i.replayed]))).toEqual(Array(JOBS).fill([200, false]));

    const usage = await a.prisma.usageRecord.findMany({ where: { obligationId: (await obligation()).id } });
    expect(new Set(usage.map((u) => u.jobId)).size).toBe(JOBS);
    expect(usage).toHaveLength(JOBS);
    const o = await obligation();
    // 102 billable tokens a job as the clearing house counts them (100 + ⌊8 × 25 %⌋); released on
    // the cumulative total, rounded down: floor(40,000 fen × 10,200 / 1,000,000) = 408 fen.
    expect(o).toMatchObject({ deliveredTokens: 10_200n, reservedTokens: 0n, releasedFen: 408n });
    expect(usage.reduce((s, u) => s + u.releasedFen, 0n)).toBe(408n);
    const transfers = await a.prisma.transfer.findMany({ where: { kind: 'ESCROW_RELEASE', obligationId: o.id } });
    expect(transfers.reduce((s, t) => s + t.amountFen, 0n)).toBe(408n);
    await expectLedgerConsistent(a.prisma);
  });
});
