import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataCenter, createNode } from '../harness/capacity-factories.js';
import { createMember, expectProblem, type TestMember } from '../harness/factories.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

const HOUR = 3_600_000;

describe('pre-trade checks: each has its own code, and a rejected order changes nothing', () => {
  let t: TestApp;
  let trader: TestMember;
  let buyer: TestMember;
  let operator: TestMember;
  let cash: string;
  let physical: string;

  const snapshot = async () => ({
    orders: await t.prisma.order.count(),
    trades: await t.prisma.trade.count(),
    transfers: await t.prisma.transfer.count(),
    positions: await t.prisma.position.count(),
    successes: await t.prisma.auditEvent.count({ where: { action: 'markets.order.place', outcome: 'SUCCESS' } }),
  });
  const rejected = async (
    res: Promise<{ status: number; headers: Headers; body: unknown; text: string }>,
    status: number,
    code: string,
  ) => {
    const before = await snapshot();
    expectProblem(await res, status, code);
    expect(await snapshot()).toEqual(before);
  };

  beforeAll(async () => {
    t = await startTestApp({ env: { HEARTBEAT_INTERVAL_MS: '3600000' } });
    trader = await createMember(t, 'TRADER');
    buyer = await createMember(t, 'BUYER');
    operator = await createMember(t, 'OPERATOR');
    for (const m of [trader, buyer, operator]) await fund(t, m, '10000.00');
    cash = await createSeries(t, await createProduct(t, { tickFen: 5, dailyPriceLimitBp: 1_000 }));
    physical = await createSeries(t, await createProduct(t, { settlementType: 'PHYSICAL' }), {
      lastTradingAt: new Date(Date.now() + 48 * HOUR).toISOString(),
      deliveryStart: new Date(Date.now() + 48 * HOUR).toISOString(),
      deliveryEnd: new Date(Date.now() + 49 * HOUR).toISOString(), // a one-hour delivery window
    });
  });
  afterAll(() => t.close());

  it('SERIES_NOT_TRADING before trading starts (and for unknown series, 404)', async () => {
    const later = await createSeries(t, await createProduct(t), { tradingStartAt: new Date(Date.now() + HOUR).toISOString() });
    expect((await trader.client.get(`/v1/series/${later}`)).body).toMatchObject({ status: 'LISTED' });
    await rejected(order(trader, later, 'BUY', '4.00', 1), 409, 'SERIES_NOT_TRADING');
    await rejected(order(trader, 'NO-SUCH', 'BUY', '4.00', 1), 404, 'NOT_FOUND');
  });

  it('OFF_TICK when the price is not a multiple of the tick', async () => {
    await rejected(order(trader, cash, 'BUY', '4.01', 1), 400, 'OFF_TICK');
    expect((await order(trader, cash, 'BUY', '4.05', 1)).status).toBe(201);
  });

  it('PRICE_LIMIT outside the daily band around the reference price (±10 %)', async () => {
    await rejected(order(trader, cash, 'BUY', '4.45', 1), 422, 'PRICE_LIMIT');
    await rejected(order(trader, cash, 'SELL', '3.55', 1), 422, 'PRICE_LIMIT');
    expect((await order(trader, cash, 'BUY', '4.40', 1, 'IOC')).status).toBe(201);
  });

  it.each([[0], [-1], [1.5], ['3'], [null], [1_000_001]])('INVALID_QUANTITY for %j', async (q) => {
    await rejected(order(trader, cash, 'BUY', '4.00', q), 400, 'INVALID_QUANTITY');
  });

  it('money codes for a malformed price', async () => {
    await rejected(order(trader, cash, 'BUY', 4, 1), 400, 'MONEY_NOT_A_STRING');
    await rejected(order(trader, cash, 'BUY', '4.005', 1), 400, 'MONEY_TOO_PRECISE');
    await rejected(order(trader, cash, 'BUY', '0', 1), 400, 'MONEY_ZERO');
  });

  it('MEMBER_SUSPENDED for a suspended member', async () => {
    const m = await createMember(t, 'TRADER');
    await t.clearing.patch(`/v1/members/${m.id}`, { status: 'SUSPENDED' });
    await rejected(order(m, cash, 'BUY', '4.00', 1), 403, 'MEMBER_SUSPENDED');
  });

  it('INSUFFICIENT_MARGIN when free cash does not cover the worst-case initial margin and fees', async () => {
    const poor = await createMember(t, 'TRADER');
    await fund(t, poor, '3.99');
    // 1 contract × 4.00 × 10 × 10 % = 4.00 > 3.99
    await rejected(order(poor, cash, 'BUY', '4.00', 1), 422, 'INSUFFICIENT_MARGIN');
    await fund(t, poor, '0.01');
    expect((await order(poor, cash, 'BUY', '4.00', 1)).status).toBe(201);
  });

  it("CAPACITY_NOT_BACKED when an operator's short exceeds what its nodes can deliver in the window", async () => {
    await rejected(order(operator, physical, 'SELL', '4.00', 1), 422, 'CAPACITY_NOT_BACKED');
    const node = await createNode(operator, await createDataCenter(operator, 'cn-east-1'), [
      { modelClass: 'llm-70b-instruct', tokensPerSecond: 3_500 },
    ]);
    await t.client().post(`/v1/nodes/${node.id}/heartbeat`, {}, { authorization: `Bearer ${node.nodeToken}` });
    // 3,500 tokens/s × 3,600 s × 0.8 = 10,080,000 tokens: one 10M-token contract, not two.
    expect((await order(operator, physical, 'SELL', '4.00', 1)).status).toBe(201);
    await rejected(order(operator, physical, 'SELL', '4.00', 1), 422, 'CAPACITY_NOT_BACKED');
  });

  it('DELIVERY_NOT_ALLOWED: a buyer may not go short in a physical series', async () => {
    await rejected(order(buyer, physical, 'SELL', '4.50', 1), 422, 'DELIVERY_NOT_ALLOWED');
    expect((await order(buyer, cash, 'SELL', '4.40', 1)).status).toBe(201); // cash-settled: allowed
  });

  it('DELIVERY_NOT_ALLOWED: a trader may not open a physical position within the cut-off before last trading', async () => {
    const soon = await createSeries(t, await createProduct(t, { settlementType: 'PHYSICAL' }), {
      lastTradingAt: new Date(Date.now() + 2 * HOUR).toISOString(),
      deliveryStart: new Date(Date.now() + 3 * HOUR).toISOString(),
      deliveryEnd: new Date(Date.now() + 4 * HOUR).toISOString(),
    });
    await rejected(order(trader, soon, 'BUY', '4.00', 1), 422, 'DELIVERY_NOT_ALLOWED');
  });
});
