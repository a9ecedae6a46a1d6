import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, expectProblem, type TestMember } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';
import { expectRestingConsistent } from '../harness/market-checks.js';

describe('trading: listing, matching, novation, fees and initial margin', () => {
  let t: TestApp;
  let a: TestMember;
  let b: TestMember;
  let product: string;
  let series: string;
  const bal = async (m: TestMember) => (await t.clearing.get<Record<string, string>>(`/v1/members/${m.id}/balances`)).body;

  beforeAll(async () => {
    t = await startTestApp();
    a = await createMember(t, 'TRADER');
    b = await createMember(t, 'TRADER');
    await fund(t, a, '100.00');
    await fund(t, b, '100.00');
    // 10M-token contracts (multiplier 10), 1-fen tick, IM 10 %, fee 0.05 per contract.
    product = await createProduct(t);
    series = await createSeries(t, product);
  });
  afterAll(() => t.close());

  it('validates products and series', async () => {
    expectProblem(
      await t.clearing.post('/v1/products', {
        code: 'BAD-1',
        modelClass: 'llm-70b-instruct',
        contractSizeTokens: 1_500_000,
        tickFen: 1,
        settlementType: 'CASH',
        initialMarginBp: 1000,
        maintenanceMarginBp: 500,
        feePerContractFen: 0,
        penaltyBp: 0,
        maxTtftMs: 1,
        minTokensPerSecond: 1,
        regions: ['cn-east-1'],
        inputTokenWeightBp: 0,
      }),
      400,
      'INVALID_PRODUCT',
    );
    expectProblem(
      await t.clearing.post('/v1/products', {
        code: 'BAD-2',
        modelClass: 'llm-70b-instruct',
        contractSizeTokens: 1_000_000,
        tickFen: 0,
        settlementType: 'CASH',
        initialMarginBp: 10_001,
        maintenanceMarginBp: 500,
        feePerContractFen: 0,
        penaltyBp: 0,
        maxTtftMs: 1,
        minTokensPerSecond: 1,
        regions: ['cn-east-1'],
        inputTokenWeightBp: 0,
      }),
      400,
      'VALIDATION_FAILED',
    );
    expectProblem(
      await t.clearing.post('/v1/products', {
        code: 'BAD-3',
        modelClass: 'gpt-x',
        contractSizeTokens: 1_000_000,
        tickFen: 1,
        settlementType: 'CASH',
        initialMarginBp: 1000,
        maintenanceMarginBp: 500,
        feePerContractFen: 0,
        penaltyBp: 0,
        maxTtftMs: 1,
        minTokensPerSecond: 1,
        regions: ['cn-east-1'],
        inputTokenWeightBp: 0,
      }),
      400,
      'UNKNOWN_MODEL_CLASS',
    );
    const now = Date.now();
    expectProblem(
      await t.clearing.post('/v1/series', {
        productCode: product,
        code: 'X-1',
        lastTradingAt: new Date(now + 3_600_000).toISOString(),
        deliveryStart: new Date(now + 1_000).toISOString(),
        deliveryEnd: new Date(now + 7_200_000).toISOString(),
        referencePrice: '4.00',
      }),
      400,
      'INVALID_SERIES',
    );
    expectProblem(
      await t.clearing.post('/v1/series', {
        productCode: 'NOPE',
        code: 'X-2',
        lastTradingAt: new Date(now + 3_600_000).toISOString(),
        deliveryStart: new Date(now + 3_700_000).toISOString(),
        deliveryEnd: new Date(now + 7_200_000).toISOString(),
        referencePrice: '4.00',
      }),
      404,
      'NOT_FOUND',
    );
    expectProblem(
      await t.clearing.post('/v1/series', {
        productCode: product,
        code: series,
        lastTradingAt: new Date(now + 3_600_000).toISOString(),
        deliveryStart: new Date(now + 3_700_000).toISOString(),
        deliveryEnd: new Date(now + 7_200_000).toISOString(),
        referencePrice: '4.00',
      }),
      409,
      'SERIES_EXISTS',
    );
    expectProblem(await a.client.post('/v1/products', {}), 403, 'FORBIDDEN_ROLE');
    expectProblem(await a.client.post('/v1/series', {}), 403, 'FORBIDDEN_ROLE');
    const view = await a.client.get(`/v1/series/${series}`);
    expect(view.body).toMatchObject({
      code: series,
      status: 'TRADING',
      referencePrice: '4.00',
      marketData: { bestBid: null, bestAsk: null, volume: 0, openInterest: 0 },
    });
  });

  it('rests a GTC order and holds initial margin for the worst case', async () => {
    const res = await order(a, series, 'SELL', '4.00', 5);
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ status: 'OPEN', filledQuantity: 0, trades: [] });
    // 5 contracts × 4.00 × 10 × 10 % = 20.00
    expect(await bal(a)).toMatchObject({ cash: '80.00', margin: '20.00' });
  });

  it('trades a crossing order at the resting price, novates to the CCP, charges fees and margins both sides', async () => {
    const res = await order(b, series, 'BUY', '4.05', 3);
    expect(res.body).toMatchObject({ status: 'FILLED', filledQuantity: 3, trades: [{ price: '4.00', quantity: 3 }] });
    // B: 3 × 4.00 × 10 × 10 % = 12.00 margin, fee 3 × 0.05 = 0.15
    expect(await bal(b)).toMatchObject({ cash: '87.85', margin: '12.00' });
    // A: short 3, still offering 2: worst case 5 short → 20.00 stays; fee 0.15
    expect(await bal(a)).toMatchObject({ cash: '79.85', margin: '20.00' });
    const tb = await t.clearing.get<{ accounts: { code: string; balance: string }[]; total: string }>('/v1/ledger/trial-balance');
    expect(tb.body.accounts.find((x) => x.code === 'ccp:fees')?.balance).toBe('0.30');
    expect(tb.body.total).toBe('0.00');
    const positions = await t.clearing.get<{ items: unknown[] }>(`/v1/positions?series=${series}`);
    expect(positions.body.items).toEqual(
      expect.arrayContaining([
        { series, memberId: a.id, long: 0, short: 3, net: -3, marginHeld: '20.00', currency: 'CNY' },
        { series, memberId: b.id, long: 3, short: 0, net: 3, marginHeld: '12.00', currency: 'CNY' },
      ]),
    );
    const own = await b.client.get<{ items: Record<string, unknown>[] }>('/v1/trades');
    expect(own.body.items).toEqual([expect.objectContaining({ side: 'BUY', counterparty: 'CCP', price: '4.00', quantity: 3 })]);
    expect(own.body.items[0]).not.toHaveProperty('sellerId');
    const md = await a.client.get<{ marketData: Record<string, unknown> }>(`/v1/series/${series}`);
    expect(md.body.marketData).toMatchObject({ bestAsk: '4.00', bestBid: null, last: '4.00', volume: 3, openInterest: 3 });
    await expectLedgerConsistent(t.prisma);
  });

  it('fills IOC orders as far as they go and cancels the rest', async () => {
    const res = await order(b, series, 'BUY', '4.00', 4, 'IOC');
    expect(res.body).toMatchObject({ status: 'CANCELLED', filledQuantity: 2, cancelReason: 'IOC_REMAINDER' });
    const book = await t.clearing.get<{ bids: unknown[]; asks: unknown[] }>(`/v1/series/${series}/book`);
    expect(book.body).toEqual({ series, currency: 'CNY', bids: [], asks: [] });
  });

  it('prevents self-trades by cancelling the resting order', async () => {
    const rest = await order(a, series, 'SELL', '4.10', 1);
    const res = await order(a, series, 'BUY', '4.10', 1);
    expect(res.body).toMatchObject({ status: 'OPEN', filledQuantity: 0 });
    const resting = await a.client.get<{ items: { id: string; status: string; cancelReason: string }[] }>('/v1/orders?status=CANCELLED');
    expect(resting.body.items.find((o) => o.id === rest.body.id)).toMatchObject({ cancelReason: 'SELF_TRADE_PREVENTION' });
  });

  it('cancels an order and releases its margin; only the owner (or clearing) may', async () => {
    const before = await bal(b);
    const res = await order(b, series, 'BUY', '3.90', 10);
    expect((await bal(b)).margin).not.toBe(before.margin);
    expectProblem(await a.client.delete(`/v1/orders/${res.body.id}`), 404, 'NOT_FOUND');
    const cancelled = await b.client.delete(`/v1/orders/${res.body.id}`);
    expect(cancelled.body).toMatchObject({ status: 'CANCELLED' });
    expect(await bal(b)).toMatchObject({ margin: before.margin, cash: before.cash });
    expectProblem(await b.client.delete(`/v1/orders/${res.body.id}`), 409, 'ORDER_NOT_OPEN');
  });

  it('refuses a duplicate clientOrderId', async () => {
    await order(b, series, 'BUY', '3.00', 1, 'GTC', { clientOrderId: 'mine-1' });
    expectProblem(await order(b, series, 'BUY', '3.00', 1, 'GTC', { clientOrderId: 'mine-1' }), 409, 'DUPLICATE_CLIENT_ORDER_ID');
  });

  it('lets clearing staff register a block trade through the same checks', async () => {
    const before = await bal(a);
    const res = await t.clearing.post('/v1/block-trades', { series, buyerId: a.id, sellerId: b.id, price: '4.02', quantity: 2 });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ block: true, quantity: 2, price: '4.02' });
    expect((await bal(a)).cash).not.toBe(before.cash);
    expectProblem(
      await t.clearing.post('/v1/block-trades', { series, buyerId: a.id, sellerId: a.id, price: '4.02', quantity: 2 }),
      400,
      'SELF_TRADE',
    );
    expectProblem(
      await a.client.post('/v1/block-trades', { series, buyerId: a.id, sellerId: b.id, price: '4.02', quantity: 2 }),
      403,
      'FORBIDDEN_ROLE',
    );
    await expectLedgerConsistent(t.prisma);
  });

  it("never shows a member another member's orders, trades or positions", async () => {
    const orders = await a.client.get<{ items: { memberId: string }[] }>('/v1/orders');
    expect(orders.body.items.every((o) => o.memberId === a.id)).toBe(true);
    const positions = await a.client.get<{ items: { memberId: string }[] }>('/v1/positions');
    expect(positions.body.items.every((p) => p.memberId === a.id)).toBe(true);
    const all = await t.clearing.get<{ items: { memberId: string }[] }>('/v1/orders?limit=500');
    expect(new Set(all.body.items.map((o) => o.memberId))).toEqual(new Set([a.id, b.id]));
  });

  it('lists a series months ahead: opening and halt are scheduled for their instants, however far away', async () => {
    const day = 24 * 3_600_000;
    const start = new Date(Date.now() + 30 * day);
    const last = new Date(Date.now() + 120 * day);
    const code = await createSeries(t, product, {
      tradingStartAt: start.toISOString(),
      lastTradingAt: last.toISOString(),
      deliveryStart: new Date(last.getTime() + day).toISOString(),
      deliveryEnd: new Date(last.getTime() + 31 * day).toISOString(),
    });
    const s = await t.prisma.series.findUniqueOrThrow({ where: { code } });
    const rows = await t.prisma.outboxMessage.findMany({
      where: { jobId: { in: [`series-open-${s.id}`, `series-halt-${s.id}`] } },
      orderBy: { jobId: 'asc' },
    });
    expect(rows.map((r) => [r.jobName, r.notBefore?.toISOString()])).toEqual([
      ['markets.series-halt', last.toISOString()],
      ['markets.series-open', start.toISOString()],
    ]);
    const { Queues } = await import('../../src/platform/queues/queues.js');
    const queue = t.app.get(Queues).get('markets');
    let halt = await queue.getJob(`series-halt-${s.id}`);
    for (let i = 0; i < 100 && !halt; i++) {
      await new Promise((r) => setTimeout(r, 50));
      halt = await queue.getJob(`series-halt-${s.id}`);
    }
    expect(halt).toBeDefined();
    expect(halt!.timestamp + halt!.delay).toBeGreaterThanOrEqual(last.getTime() - 5_000);
    expect(halt!.timestamp + halt!.delay).toBeLessThanOrEqual(last.getTime() + 5_000);
    expect(await halt!.getState()).toBe('delayed');
  });

  it('resting quantities kept for the risk checks equal the live orders', async () => {
    await expectRestingConsistent(t.prisma);
  });
});
