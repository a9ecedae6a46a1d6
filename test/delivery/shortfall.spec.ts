import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../src/platform/time/clock.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { closeWindow, expire, physicalMarket, submitJob, waitFor, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

describe('window close with an operator shortfall (all its nodes OFFLINE)', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  const balances = async (id: string) => (await t.clearing.get<Record<string, string>>(`/v1/members/${id}/balances`)).body;

  beforeAll(async () => {
    // Heartbeats every 300 ms: a silent node is OFFLINE after 900 ms and the next sweep.
    t = await startTestApp({
      env: { HEARTBEAT_INTERVAL_MS: '300', DELIVERY_STALE_MS: '1000', DELIVERY_REAP_MS: '100', WEBHOOK_ALLOW_HOSTS: '127.0.0.1' },
    });
    m = await physicalMarket(t, {
      operators: 1,
      nodesPerOperator: 2,
      buyers: 1,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
    });
    await expire(t, m);
  });
  afterAll(() => t.close());

  it('fails the waiting jobs with NO_CAPACITY at the end of the window, refunds the shortfall and charges the penalty', async () => {
    const [op, buyer] = [m.operators[0].member, m.buyers[0]];
    await waitFor(
      'nodes to go OFFLINE',
      async () => (await t.prisma.node.count({ where: { operatorId: op.id, status: 'OFFLINE' } })) === 2,
      15_000,
    );
    // Price 400.00 for 1M tokens, VM 0 (final = reference = trade price), margin released, escrow paid.
    expect(await balances(buyer.id)).toMatchObject({ cash: '99600.00', escrow: '400.00', margin: '0.00' });
    expect(await balances(op.id)).toMatchObject({ cash: '100000.00', margin: '0.00' });

    // The buyer is told of a failure too: one job carries a callback URL.
    const hooks: string[] = [];
    const receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => (hooks.push(body), res.writeHead(204).end()));
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const jobs: string[] = [];
    for (let i = 0; i < 2; i++) jobs.push((await submitJob(buyer, m.series, 1_000, `job ${i}`, i === 0 ? { callbackUrl } : {})).body.id);
    await waitFor('dispatch to find no node', async () => {
      const rows = await t.prisma.deliveryJob.findMany({ where: { id: { in: jobs } } });
      return rows.every((r) => JSON.stringify(r.decisions).includes('NO_ELIGIBLE_NODE'));
    });
    t.app.get(Clock).set(new Date(m.deliveryEnd.getTime() + 1_000));
    await waitFor(
      'jobs to fail with NO_CAPACITY',
      async () =>
        (await t.prisma.deliveryJob.count({
          where: { id: { in: jobs }, status: 'FAILED', failureCode: 'NO_CAPACITY', operatorFault: true },
        })) === 2,
      20_000,
    );

    await waitFor('the failure webhook', async () => hooks.length > 0, 20_000);
    expect(JSON.parse(hooks[0])).toMatchObject({
      event: 'delivery.job.failed',
      job: { id: jobs[0], status: 'FAILED', failure: { code: 'NO_CAPACITY' } },
    });
    receiver.close();

    const run = await closeWindow(t, m);
    expect(run.status).toBe('COMPLETED');
    // By hand: 1,000,000 tokens for 400.00 (40,000 fen); nothing delivered; shortfall 2 × 1,000 = 2,000
    // tokens (the failed jobs' reservations); unused 998,000 → seller paid floor(40,000 × 998,000 /
    // 1,000,000) = 39,920 fen; refund 80 fen; penalty 20 % of 80 = 16 fen from seller to buyer.
    const [o] = (await buyer.client.get<{ items: Record<string, unknown>[] }>('/v1/obligations')).body.items;
    expect(o).toMatchObject({
      status: 'CLOSED',
      shortfallTokens: 2_000,
      unusedTokens: 998_000,
      released: '399.20',
      refunded: '0.80',
      penalty: '0.16',
    });
    expect(await balances(buyer.id)).toMatchObject({ cash: '99600.96', escrow: '0.00' });
    expect(await balances(op.id)).toMatchObject({ cash: '100399.04' });
    expect((await t.clearing.get(`/v1/series/${m.series}`)).body).toMatchObject({ status: 'SETTLED' });
    const kinds = await t.prisma.transfer.findMany({
      where: { obligationId: o.id as string },
      select: { kind: true, amountFen: true },
      orderBy: { seq: 'asc' },
    });
    expect(kinds).toEqual([
      { kind: 'ESCROW_FUND', amountFen: 40_000n },
      { kind: 'ESCROW_RELEASE', amountFen: 39_920n },
      { kind: 'ESCROW_REFUND', amountFen: 80n },
      { kind: 'PENALTY', amountFen: 16n },
    ]);
    await expectLedgerConsistent(t.prisma);
  }, 60_000);
});
