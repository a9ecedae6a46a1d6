import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, expectProblem } from '../harness/factories.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';
import { expectRestingConsistent } from '../harness/market-checks.js';

const DAY = 86_400_000;
const far = (days: number) => ({
  lastTradingAt: new Date(Date.now() + days * DAY).toISOString(),
  deliveryStart: new Date(Date.now() + (days + 1) * DAY).toISOString(),
  deliveryEnd: new Date(Date.now() + (days + 5) * DAY).toISOString(),
});

interface LargeTrader {
  memberId: string;
  product: string;
  allMonths: { contracts: number; limit: number | null; usageBp: number | null };
  spotMonth: { series: string; contracts: number; limit: number; usageBp: number }[];
}

describe('position limits and the large-trader report', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('validates the new product fields', async () => {
    const bad = await t.clearing.post('/v1/products', {
      code: 'LIM-BAD',
      modelClass: 'llm-70b-instruct',
      contractSizeTokens: 10_000_000,
      tickFen: 1,
      settlementType: 'CASH',
      initialMarginBp: 1_000,
      maintenanceMarginBp: 750,
      feePerContractFen: 0,
      penaltyBp: 0,
      maxTtftMs: 2_000,
      minTokensPerSecond: 20,
      regions: ['cn-east-1'],
      inputTokenWeightBp: 0,
      positionLimit: 5,
      spotMonthLimit: 6,
    });
    expectProblem(bad, 400, 'INVALID_PRODUCT');
    expectProblem(await t.clearing.post('/v1/products', { code: 'LIM-BAD2', circuitBreakerBp: 0 }), 400, 'VALIDATION_FAILED');
  });

  it('POSITION_LIMIT for the all-months and the spot-month limit, resting orders counted; the report lists members at 80 %', async () => {
    const product = await createProduct(t, { feePerContractFen: 0, positionLimit: 10, spotMonthLimit: 4 });
    const a = await createSeries(t, product, far(60));
    const c = await createSeries(t, product, far(90));
    const spot = await createSeries(t, product); // delivery starts in 49 h: spot month
    const [x, m2, m3, m4] = [
      await createMember(t, 'TRADER'),
      await createMember(t, 'TRADER'),
      await createMember(t, 'TRADER'),
      await createMember(t, 'TRADER'),
    ];
    for (const m of [x, m2, m3, m4]) await fund(t, m, '1000.00');

    // All months: resting buys of 6 + 4 in two series reach the limit of 10; one more is refused.
    expect((await order(x, a, 'BUY', '4.00', 6)).status).toBe(201);
    expect((await order(x, c, 'BUY', '4.00', 4)).status).toBe(201);
    const over = await order(x, a, 'BUY', '4.00', 1);
    expectProblem(over, 422, 'POSITION_LIMIT');
    expect((over.body as unknown as { detail: string }).detail).toMatch(/all series/);
    // Reducing is always allowed: a resting sell does not add to the worst case of a long book.
    expect((await order(x, c, 'SELL', '4.10', 2)).status).toBe(201);

    // Spot month: 5 in the spot series is past its limit of 4.
    const spotOver = await order(m2, spot, 'SELL', '4.00', 5);
    expectProblem(spotOver, 422, 'POSITION_LIMIT');
    expect((spotOver.body as unknown as { detail: string }).detail).toMatch(/spot-month/);
    expect((await order(m2, spot, 'SELL', '4.00', 4)).status).toBe(201);

    // 8 of 10 (80 %) listed; 7 of 10 not.
    expect((await order(m3, a, 'BUY', '3.90', 8)).status).toBe(201);
    expect((await order(m4, a, 'BUY', '3.90', 7)).status).toBe(201);

    expectProblem(await x.client.get('/v1/reports/large-traders'), 403, 'FORBIDDEN_ROLE');
    const items: LargeTrader[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; text: string; body: { items: LargeTrader[]; nextCursor: string | null } } = await t.clearing.get<{
        items: LargeTrader[];
        nextCursor: string | null;
      }>(`/v1/reports/large-traders?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status, res.text).toBe(200);
      items.push(...res.body.items);
      cursor = res.body.nextCursor;
    } while (cursor);
    const mine = items.filter((i) => i.product === product);
    expect(mine.map((i) => i.memberId).sort()).toEqual([x.id, m2.id, m3.id].sort());
    expect(mine.find((i) => i.memberId === x.id)!.allMonths).toEqual({ contracts: 10, limit: 10, usageBp: 10_000 });
    expect(mine.find((i) => i.memberId === m3.id)!.allMonths).toEqual({ contracts: 8, limit: 10, usageBp: 8_000 });
    expect(mine.find((i) => i.memberId === m2.id)!.spotMonth).toEqual([{ series: spot, contracts: 4, limit: 4, usageBp: 10_000 }]);
  });

  it('a cancelled resting order frees exactly its own room: cancelling it twice frees nothing more', async () => {
    const product = await createProduct(t, { feePerContractFen: 0, positionLimit: 5 });
    const a = await createSeries(t, product, far(60));
    const [x, y] = [await createMember(t, 'TRADER'), await createMember(t, 'TRADER')];
    for (const m of [x, y]) await fund(t, m, '1000.00');
    const three = await order(x, a, 'BUY', '4.00', 3);
    expect(three.status).toBe(201);
    // Two of the three fill: the position holds 2, the order rests with 1.
    expect((await order(y, a, 'SELL', '4.00', 2)).status).toBe(201);
    expect((await order(x, a, 'BUY', '3.90', 2)).status).toBe(201); // worst case 2 + 1 + 2 = 5
    expectProblem(await order(x, a, 'BUY', '3.90', 1), 422, 'POSITION_LIMIT');

    expect((await x.client.delete(`/v1/orders/${three.body.id}`)).status).toBe(200);
    expectProblem(await x.client.delete(`/v1/orders/${three.body.id}`), 409, 'ORDER_NOT_OPEN');
    // The cancel freed the 1 contract left on the order, once: 1 fits, a second does not.
    expect((await order(x, a, 'BUY', '3.90', 1)).status).toBe(201);
    expectProblem(await order(x, a, 'BUY', '3.90', 1), 422, 'POSITION_LIMIT');
    await expectRestingConsistent(t.prisma);
  });

  it('resting quantities kept for the risk checks equal the live orders', async () => {
    await expectRestingConsistent(t.prisma);
  });
});
