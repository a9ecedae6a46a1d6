import { parseAmount } from '../../src/platform/money/money.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClearingUser, expectProblem } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import {
  closeWindow,
  expire,
  expiredMarket,
  physicalMarket,
  startAgent,
  submitJob,
  waitFor,
  type JobView,
  type PhysicalMarket,
} from '../harness/delivery-fixtures.js';
import type { Spawned } from '../harness/processes.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

// 1 contract of 1,000,000 tokens at 400.00 (40,000 fen): op0 sells to the buyer, op1 stands by.
describe('physical buy-in: a seller goes dark mid-window, a standby operator delivers the rest', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  const agents: Spawned[] = [];
  const balances = async (id: string) => (await t.clearing.get<Record<string, string>>(`/v1/members/${id}/balances`)).body;
  const cashFen = async (id: string) =>
    (await t.prisma.ledgerAccount.findUniqueOrThrow({ where: { code: `member:${id}:cash` }, select: { balanceFen: true } })).balanceFen;
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

  it('standby offers are posted by operators and listed a page at a time', async () => {
    const [op0, op1] = m.operators.map((o) => o.member);
    const offer = await op1.client.post('/v1/standby-offers', {
      modelClass: 'llm-70b-instruct',
      regions: ['cn-east-1'],
      tokens: 2_000_000,
      premiumBp: 500,
    });
    expect(offer.status, offer.text).toBe(201);
    expect(offer.body).toMatchObject({ operatorId: op1.id, remainingTokens: 2_000_000, premiumBp: 500, status: 'OPEN' });
    expectProblem(
      await m.buyers[0].client.post('/v1/standby-offers', {
        modelClass: 'llm-70b-instruct',
        regions: ['cn-east-1'],
        tokens: 1,
        premiumBp: 1,
      }),
      403,
      'FORBIDDEN_ROLE',
    );
    expectProblem(
      await op0.client.post('/v1/standby-offers', { modelClass: 'llm-70b-instruct', regions: ['mars-1'], tokens: 1, premiumBp: 1 }),
      400,
      'UNKNOWN_REGION',
    );
    const mine = await op1.client.get<{ items: unknown[]; nextCursor: string | null }>('/v1/standby-offers?limit=1');
    expect(mine.body.items).toHaveLength(1);
    expect((await op0.client.get<{ items: unknown[] }>('/v1/standby-offers')).body.items).toEqual([]);
  });

  it("clearing buys in: the buyer's queued and later jobs complete on the standby node, its cash as if the seller had delivered", async () => {
    const [op0, op1] = m.operators.map((o) => o.member);
    const buyer = m.buyers[0];
    const [n0] = m.operators[0].nodes;
    const [n1] = m.operators[1].nodes;
    expect(await balances(buyer.id)).toMatchObject({ cash: '99600.00', escrow: '400.00' });
    const op0Before = await cashFen(op0.id);
    const op1Before = await cashFen(op1.id);

    // The seller delivers one job, then its node goes dark.
    const a0 = startAgent(t, n0);
    agents.push(a0);
    const first = (await submitJob(buyer, m.series, 1_000, 'first')).body.id;
    await waitFor('the first job on the seller', async () => (await job(first)).status === 'COMPLETED', 30_000);
    a0.child.kill('SIGKILL');
    await waitFor(
      'the seller node OFFLINE',
      async () => (await t.prisma.node.findUniqueOrThrow({ where: { id: n0.id } })).status === 'OFFLINE',
      15_000,
    );
    const queued: string[] = [];
    for (let i = 0; i < 2; i++) queued.push((await submitJob(buyer, m.series, 1_000, `stuck ${i}`)).body.id);
    await waitFor('dispatch to find no node of the seller', async () => {
      const rows = await t.prisma.deliveryJob.findMany({ where: { id: { in: queued } } });
      return rows.every((r) => r.status === 'QUEUED' && JSON.stringify(r.decisions).includes('NO_ELIGIBLE_NODE'));
    });

    const [original] = (await buyer.client.get<{ items: { id: string }[] }>('/v1/obligations')).body.items;
    const before = await t.prisma.deliveryObligation.findUniqueOrThrow({ where: { id: original.id } });
    expectProblem(await op0.client.post(`/v1/obligations/${original.id}/buy-in`, {}), 403, 'FORBIDDEN_ROLE');
    const res = await t.clearing.post<{
      movedTokens: number;
      substitutes: { obligationId: string; sellerId: string; tokens: number; notional: string; premium: string }[];
    }>(`/v1/obligations/${original.id}/buy-in`, {});
    expect(res.status, res.text).toBe(200);
    // By hand: what was delivered stays with op0 at floor(40,000 × d / 1,000,000); the rest moves.
    const d = before.deliveredTokens;
    const moved = 1_000_000n - d;
    const keptFen = (40_000n * d) / 1_000_000n;
    const movedFen = 40_000n - keptFen;
    const premiumFen = (movedFen * 500n + 9_999n) / 10_000n; // 5 %, rounded up against the defaulting seller
    expect(res.body.movedTokens).toBe(Number(moved));
    expect(res.body.substitutes).toHaveLength(1);
    const [sub] = res.body.substitutes;
    expect(sub).toMatchObject({ sellerId: op1.id, tokens: Number(moved) });
    expect(parseAmount(sub.notional)).toBe(movedFen);
    expect(parseAmount(sub.premium)).toBe(premiumFen);
    expectProblem(await t.clearing.post(`/v1/obligations/${original.id}/buy-in`, {}), 409, 'BUY_IN_NOT_POSSIBLE');
    // The premium moved from the seller to the standby operator; the buyer's cash did not move.
    expect(await cashFen(op0.id)).toBe(op0Before + keptFen - premiumFen);
    expect(await cashFen(op1.id)).toBe(op1Before + premiumFen);
    expect(await balances(buyer.id)).toMatchObject({ cash: '99600.00' });

    // The queued jobs and a new one complete on the standby operator's node.
    agents.push(startAgent(t, n1));
    const later = (await submitJob(buyer, m.series, 1_000, 'after the buy-in')).body.id;
    for (const id of [...queued, later]) {
      await waitFor(`job ${id} on the standby node`, async () => (await job(id)).status === 'COMPLETED', 30_000);
      const j = await job(id);
      expect(j.nodeId).toBe(n1.id);
      expect(j.obligationId).toBe(sub.obligationId);
    }

    // At the window's end nothing is refunded, no penalty: take-or-pay as if op0 had delivered it all.
    const run = await closeWindow(t, m);
    expect(run.status).toBe('COMPLETED');
    expect(await balances(buyer.id)).toMatchObject({ cash: '99600.00', escrow: '0.00' });
    expect(await cashFen(op0.id)).toBe(op0Before + keptFen - premiumFen);
    expect(await cashFen(op1.id)).toBe(op1Before + premiumFen + movedFen);
    const obligations = await t.prisma.deliveryObligation.findMany({ where: { seriesId: m.seriesId }, orderBy: { seq: 'asc' } });
    expect(obligations.map((o) => [o.sellerId, o.status, o.tokens, o.boughtInTokens, o.shortfallTokens, o.penaltyFen])).toEqual([
      [op0.id, 'CLOSED', d, moved, 0n, 0n],
      [op1.id, 'CLOSED', moved, 0n, 0n, 0n],
    ]);
    await expectLedgerConsistent(t.prisma);
    const recon = await t.clearing.post<{ checks: { name: string; differences: number }[] }>('/v1/reconciliation/runs', {});
    expect(recon.body.checks.filter((c) => c.differences > 0)).toEqual([]);
  }, 120_000);
});

describe('a seller defaults: its undelivered obligation is bought in at approval, the premium falls to the waterfall', () => {
  let t: TestApp;
  let m: PhysicalMarket;

  beforeAll(async () => {
    t = await startTestApp({ env: { DEFAULT_AUCTION_SECONDS: '1', LOG_LEVEL: 'error' } });
    // Operators hold 100.00 each; the buyer 1,000.00 (400.00 goes to escrow at expiry).
    m = await physicalMarket(t, {
      operators: 2,
      nodesPerOperator: 1,
      buyers: 1,
      cash: '100.00',
      buyerCash: { 0: '1000.00' },
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
    });
    await expire(t, m);
  });
  afterAll(() => t.close());

  it('moves the whole obligation to the standby operator and covers the premium from ccp:capital', async () => {
    const [op0, op1] = m.operators.map((o) => o.member);
    const buyer = m.buyers[0];
    expect(
      (
        await op1.client.post('/v1/standby-offers', {
          modelClass: 'llm-70b-instruct',
          regions: ['cn-north-1', 'cn-east-1'],
          tokens: 1_000_000,
          premiumBp: 5_000,
        })
      ).status,
    ).toBe(201);
    expect((await t.clearing.post('/v1/ccp/capital', { amount: '150.00', currency: 'CNY', reference: 'CAP-2' })).status).toBe(201);
    const checker = await createClearingUser(t);
    const proposed = await t.clearing.post<{ id: string }>('/v1/defaults', { memberId: op0.id, reason: 'stopped delivering' });
    expect((await checker.client.post(`/v1/defaults/${proposed.body.id}/approve`, {})).status).toBe(200);

    const obligations = await t.prisma.deliveryObligation.findMany({ where: { seriesId: m.seriesId }, orderBy: { seq: 'asc' } });
    expect(obligations.map((o) => [o.sellerId, o.tokens, o.notionalFen, o.boughtInTokens])).toEqual([
      [op0.id, 0n, 0n, 1_000_000n],
      [op1.id, 1_000_000n, 40_000n, 0n],
    ]);
    // Premium 50 % of 400.00 = 200.00: op0's 100.00 → −100.00, op1 100.00 → 300.00; the buyer's cash unmoved.
    expect((await t.clearing.get(`/v1/members/${buyer.id}/balances`)).body).toMatchObject({ cash: '600.00', escrow: '400.00' });
    expect((await t.clearing.get(`/v1/members/${op1.id}/balances`)).body).toMatchObject({ cash: '300.00' });

    // No positions left to auction (the series expired): the waterfall covers op0's −100.00 from ccp:capital.
    let report: { status: string; lossFen: string; waterfall: { layer: string; amountFen: string }[] } = {
      status: '',
      lossFen: '',
      waterfall: [],
    };
    for (let i = 0; i < 100 && report.status !== 'COMPLETED'; i++) {
      report = (await t.clearing.get<typeof report>(`/v1/defaults/${proposed.body.id}`)).body;
      if (report.status !== 'COMPLETED') await new Promise((r) => setTimeout(r, 100));
    }
    expect(report).toMatchObject({ status: 'COMPLETED', lossFen: '10000' });
    expect(report.waterfall.map((s) => [s.layer, s.amountFen])).toEqual([['CCP_CAPITAL', '10000']]);
    expect((await t.clearing.get(`/v1/members/${op0.id}/balances`)).body).toMatchObject({ cash: '0.00' });
    await expectLedgerConsistent(t.prisma);
  });
});
