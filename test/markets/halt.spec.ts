import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, expectProblem } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';
import { expectRestingConsistent } from '../harness/market-checks.js';

describe('series halt at lastTradingAt (delayed job through the outbox)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('halts trading, cancels resting orders and releases their margin', async () => {
    const m = await createMember(t, 'TRADER');
    await fund(t, m, '100.00');
    const now = Date.now();
    const series = await createSeries(t, await createProduct(t), {
      lastTradingAt: new Date(now + 3_000).toISOString(),
      deliveryStart: new Date(now + 4_000).toISOString(),
      deliveryEnd: new Date(now + 3_600_000).toISOString(),
    });
    await order(m, series, 'BUY', '3.90', 2);
    await order(m, series, 'SELL', '4.10', 3);
    expect((await m.client.get(`/v1/members/${m.id}/balances`)).body).toMatchObject({ margin: '12.00', cash: '88.00' });

    const deadline = Date.now() + 15_000;
    let status = '';
    while (Date.now() < deadline) {
      const open = await t.prisma.order.count({ where: { memberId: m.id, status: 'OPEN' } });
      status = (await t.prisma.series.findUniqueOrThrow({ where: { code: series } })).status;
      if (open === 0 && status === 'EXPIRED') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe('EXPIRED');
    const orders = await m.client.get<{ items: { status: string; cancelReason: string }[] }>('/v1/orders');
    expect(orders.body.items.map((o) => [o.status, o.cancelReason])).toEqual([
      ['CANCELLED', 'SERIES_HALTED'],
      ['CANCELLED', 'SERIES_HALTED'],
    ]);
    expect((await m.client.get(`/v1/members/${m.id}/balances`)).body).toMatchObject({ margin: '0.00', cash: '100.00' });
    expectProblem(await order(m, series, 'BUY', '3.90', 1), 409, 'SERIES_NOT_TRADING');
    await expectLedgerConsistent(t.prisma);
  }, 30_000);

  it('resting quantities kept for the risk checks equal the live orders', async () => {
    await expectRestingConsistent(t.prisma);
  });
});
