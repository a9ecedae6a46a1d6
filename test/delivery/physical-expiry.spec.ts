import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, expectProblem } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { expire, physicalMarket, submitJob, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';
import { expectRestingConsistent } from '../harness/market-checks.js';

interface Obligation {
  id: string;
  seq: number;
  sellerId: string;
  buyerId: string;
  contracts: number;
  tokens: number;
  price: string;
  notional: string;
  status: string;
}

describe('EXPIRY of a PHYSICAL series: final VM, trader close-out, allocation, escrow (DvP)', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  const balances = async (id: string) => (await t.clearing.get<Record<string, string>>(`/v1/members/${id}/balances`)).body;

  beforeAll(async () => {
    t = await startTestApp({ env: { TRADER_CUTOFF_HOURS: '0' } });
    m = await physicalMarket(t, {
      operators: 2,
      nodesPerOperator: 1,
      buyers: 2,
      traders: 1,
      buyerCash: { 1: '500.00' },
      trades: [
        { seller: ['op', 0], buyer: ['buyer', 0], quantity: 3 }, // buyer 0 is the oldest long
        { seller: ['op', 1], buyer: ['buyer', 1], quantity: 2 },
        { seller: ['op', 0], buyer: ['trader', 0], quantity: 1 },
      ],
    });
  });
  afterAll(() => t.close());

  it('refuses delivery jobs and the window close before expiry', async () => {
    expectProblem(await submitJob(m.buyers[0], m.series, 10, 'hi'), 422, 'NO_ENTITLEMENT');
    expectProblem(await t.clearing.post('/v1/settlement/runs', { type: 'EXPIRY', series: m.series }), 409, 'SERIES_NOT_EXPIRED');
  });

  it('pays the final VM at the fixing, closes the trader out with a penalty, allocates and funds escrow', async () => {
    const [b0, b1] = m.buyers;
    const [op0, op1] = m.operators.map((o) => o.member);
    const trader = m.traders[0];
    const fixing = await t.clearing.post(`/v1/series/${m.series}/index-fixings`, {
      price: '410.00',
      source: 'test index',
      asOf: m.lastTradingAt.toISOString(),
    });
    expect(fixing.status, fixing.text).toBe(201);
    const run = await expire(t, m);
    expect(run.price).toBe('410.00');

    // By hand, multiplier 1 (1M-token contracts), bought/sold at 400.00, final 410.00:
    // VM +10.00 per long contract, -10.00 per short. IM (10 %) all released.
    // Trader: long 1 closed at 410.00 with 20 % penalty on 410.00 = 82.00.
    // Escrow: buyer 0 pays 3 × 410.00 = 1230.00; buyer 1 pays 2 × 410.00 = 820.00 with 520.00 in cash.
    expect(await balances(b0.id)).toMatchObject({ cash: '98800.00', margin: '0.00', escrow: '1230.00' });
    expect(await balances(b1.id)).toMatchObject({ cash: '-300.00', margin: '0.00', escrow: '820.00' });
    expect(await balances(trader.id)).toMatchObject({ cash: '99928.00', margin: '0.00', escrow: '0.00' });
    expect(await balances(op0.id)).toMatchObject({ cash: '99960.00', margin: '0.00' });
    expect(await balances(op1.id)).toMatchObject({ cash: '99980.00', margin: '0.00' });

    // Allocation: longs oldest first (buyer 0, then buyer 1), shorts by member id; the trader's
    // long was closed out, so one short contract (the last in id order) stays cash-settled.
    const shorts = [
      { id: op0.id, qty: 4 },
      { id: op1.id, qty: 2 },
    ].sort((a, b) => (a.id < b.id ? -1 : 1));
    const longs = [
      { id: b0.id, qty: 3 },
      { id: b1.id, qty: 2 },
    ];
    const expected: { sellerId: string; buyerId: string; contracts: number }[] = [];
    let [i, j] = [0, 0];
    while (i < longs.length && j < shorts.length) {
      const q = Math.min(longs[i].qty, shorts[j].qty);
      expected.push({ sellerId: shorts[j].id, buyerId: longs[i].id, contracts: q });
      longs[i].qty -= q;
      shorts[j].qty -= q;
      if (longs[i].qty === 0) i++;
      if (shorts[j].qty === 0) j++;
    }
    const obligations = (await t.clearing.get<{ items: Obligation[] }>(`/v1/obligations?series=${m.series}`)).body.items.sort(
      (a, b) => a.seq - b.seq,
    );
    expect(obligations.map((o) => ({ sellerId: o.sellerId, buyerId: o.buyerId, contracts: o.contracts }))).toEqual(expected);
    for (const o of obligations) {
      expect(o).toMatchObject({ tokens: o.contracts * 1_000_000, price: '410.00', notional: `${o.contracts * 410}.00` });
      expect(o.status).toBe(o.buyerId === b0.id ? 'OPEN' : 'FUNDING');
    }
    expect((await t.clearing.get(`/v1/series/${m.series}`)).body).toMatchObject({ status: 'IN_DELIVERY' });
    // Members see only their own obligations.
    const mine = (await b0.client.get<{ items: Obligation[] }>('/v1/obligations')).body.items;
    expect(mine.every((o) => o.buyerId === b0.id)).toBe(true);
    await expectLedgerConsistent(t.prisma);
  });

  it('re-running the EXPIRY changes nothing', async () => {
    const before = await t.prisma.transfer.count();
    const again = await t.clearing.post<{ id: string; status: string }>('/v1/settlement/runs', { type: 'EXPIRY', series: m.series });
    expect(again.body.status).toBe('COMPLETED');
    expect(await t.prisma.transfer.count()).toBe(before);
    expect(await t.prisma.deliveryObligation.count({ where: { seriesId: m.seriesId } })).toBeGreaterThan(0);
  });

  it('keeps an unfunded buyer in FUNDING with a margin call until a deposit covers it', async () => {
    const b1 = m.buyers[1];
    const calls = (await b1.client.get<{ items: { amount: string; status: string }[] }>('/v1/margin-calls')).body.items;
    expect(calls).toEqual([expect.objectContaining({ amount: '300.00', status: 'OPEN' })]);
    expectProblem(await submitJob(b1, m.series, 100, 'hello'), 409, 'OBLIGATION_FUNDING');
    const dep = await t.clearing.post(`/v1/members/${b1.id}/deposits`, { amount: '300.00', currency: 'CNY', reference: 'FUND-B1' });
    expect(dep.status, dep.text).toBe(201);
    const job = await submitJob(b1, m.series, 100, 'hello');
    expect(job.status, job.text).toBe(201);
    expect(job.body.status).toBe('QUEUED');
    const obligations = (await b1.client.get<{ items: Obligation[] }>('/v1/obligations')).body.items;
    expect(obligations.every((o) => o.status === 'OPEN')).toBe(true);
  });

  it('validates delivery jobs with stable codes and checks role and ownership', async () => {
    const b0 = m.buyers[0];
    expectProblem(await submitJob(b0, m.series, 10, 'x', { modelClass: 'llm-8b-instruct' }), 400, 'MODEL_CLASS_MISMATCH');
    expectProblem(await submitJob(b0, m.series, 10, 'x', { modelClass: 'gpt-banana' }), 400, 'UNKNOWN_MODEL_CLASS');
    expectProblem(await submitJob(b0, m.series, 10, 'x', { region: 'cn-west-1' }), 400, 'REGION_NOT_ALLOWED');
    expectProblem(await submitJob(b0, m.series, 10, 'x', { region: 'mars-1' }), 400, 'UNKNOWN_REGION');
    expectProblem(await submitJob(b0, m.series, 10_000_000, 'x'), 400, 'VALIDATION_FAILED');
    expectProblem(await submitJob(b0, m.series, 0, 'x'), 400, 'VALIDATION_FAILED');
    expectProblem(
      await b0.client.post('/v1/delivery/jobs', { series: m.series, modelClass: 'llm-70b-instruct', messages: [], maxTokens: 5 }),
      400,
      'VALIDATION_FAILED',
    );
    expectProblem(await submitJob(b0, m.series, 10, 'x', { callbackUrl: 'ftp://nope' }), 400, 'VALIDATION_FAILED');
    expectProblem(await submitJob(b0, 'NO-SUCH', 10, 'x'), 404, 'NOT_FOUND');
    expectProblem(await submitJob(m.traders[0], m.series, 10, 'x'), 403, 'FORBIDDEN_ROLE');
    const stranger = await createMember(t, 'BUYER');
    expectProblem(await submitJob(stranger, m.series, 10, 'x'), 422, 'NO_ENTITLEMENT');
    const job = await submitJob(b0, m.series, 10, 'x');
    expect(job.status, job.text).toBe(201);
    expectProblem(await stranger.client.get(`/v1/delivery/jobs/${job.body.id}`), 404, 'NOT_FOUND');
    expectProblem(await stranger.client.get('/v1/delivery/jobs/not-a-uuid'), 400, 'INVALID_ID');
    expect((await b0.client.get(`/v1/delivery/jobs/${job.body.id}`)).status).toBe(200);
    expectProblem(await t.clearing.post('/v1/settlement/runs', { type: 'DELIVERY_CLOSE', series: m.series }), 409, 'DELIVERY_WINDOW_OPEN');
  });

  it('reports the tokens/s open obligations commit in GET /v1/capacity', async () => {
    // 5M tokens over the 2-hour window (7,200 s), per seller rounded up: 695 tokens/s either way
    // the shorts were ordered (556 + 139 or 417 + 278). Both nodes are in cn-east-1.
    const cap = (
      await t.clearing.get<{ items: { modelClass: string; region: string; committedTokensPerSecond: number; tokensPerSecond: number }[] }>(
        '/v1/capacity?modelClass=llm-70b-instruct&region=cn-east-1',
      )
    ).body.items;
    expect(cap).toEqual([
      expect.objectContaining({ tokensPerSecond: 2000, committedTokensPerSecond: 695, availableTokensPerSecond: 1305 }),
    ]);
  });

  it('resting quantities kept for the risk checks equal the live orders', async () => {
    await expectRestingConsistent(t.prisma);
  });
});
