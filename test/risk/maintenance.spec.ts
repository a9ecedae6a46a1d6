import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schedules } from '../../src/platform/queues/job-registry.js';
import { MaintenanceMarginService } from '../../src/settlement/maintenance-margin.service.js';
import { createMember, expectProblem, type TestMember } from '../harness/factories.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';
import { expectRestingConsistent } from '../harness/market-checks.js';

type CallRow = { type: string; status: string; amount: string; dueAt: string; overdue: boolean };

async function pollCalls(m: TestMember, done: (items: CallRow[]) => boolean): Promise<CallRow[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await m.client.get<{ items: CallRow[] }>('/v1/margin-calls');
    expect(res.status, res.text).toBe(200);
    if (done(res.body.items) || Date.now() > deadline) return res.body.items;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('maintenance margin: intraday re-mark, reduce-only, closed by a deposit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('the re-mark is a repeatable job every INTRADAY_MARK_MINUTES', () => {
    const s = schedules(t.config).find((x) => x.job === 'settlement.intraday-mark')!;
    expect(s.repeat).toEqual({ every: t.config.risk.intradayMarkMinutes * 60_000 });
  });

  it('a price move that leaves cash positive but equity under maintenance opens a MAINTENANCE call', async () => {
    const product = await createProduct(t, { feePerContractFen: 0, initialMarginBp: 1_000, maintenanceMarginBp: 750 });
    const series = await createSeries(t, product);
    const [x, y, z, w] = [
      await createMember(t, 'TRADER'),
      await createMember(t, 'TRADER'),
      await createMember(t, 'TRADER'),
      await createMember(t, 'TRADER'),
    ];
    await fund(t, x, '50.00');
    for (const m of [y, z, w]) await fund(t, m, '1000.00');
    expect((await order(y, series, 'SELL', '4.00', 10)).status).toBe(201);
    expect((await order(x, series, 'BUY', '4.00', 10)).status).toBe(201); // IM 40.00, cash 10.00
    const mark = () => t.app.get(MaintenanceMarginService).intradayMark();
    await mark();
    expect((await x.client.get<{ items: unknown[] }>('/v1/margin-calls')).body.items).toEqual([]);

    // The market trades at 3.60: X's unsettled loss is 10 × (360 − 400) × 10 = −4000 fen.
    expect((await order(w, series, 'SELL', '3.60', 1)).status).toBe(201);
    expect((await order(z, series, 'BUY', '3.60', 1)).status).toBe(201);
    await mark();
    // Equity 10.00 + 40.00 − 40.00 = 10.00; maintenance at 3.60 = 10 × 360 × 10 × 10 % × 75 % = 27.00.
    const calls = (await x.client.get<{ items: CallRow[] }>('/v1/margin-calls')).body.items;
    expect(calls).toEqual([expect.objectContaining({ type: 'MAINTENANCE', status: 'OPEN', amount: '17.00', overdue: false })]);
    expect(new Date(calls[0].dueAt).getTime() - Date.now()).toBeGreaterThan((t.config.risk.marginCallDueMinutes - 1) * 60_000);
    const byType = await t.clearing.get<{ items: { memberId: string }[] }>('/v1/margin-calls?type=MAINTENANCE&status=OPEN');
    expect(byType.body.items.map((c) => c.memberId)).toContain(x.id);
    expect((await t.clearing.get<{ items: unknown[] }>(`/v1/margin-calls?type=VARIATION&status=OPEN`)).body.items).toEqual([]);
    // No money moved: cash is still positive.
    expect((await x.client.get(`/v1/members/${x.id}/balances`)).body).toMatchObject({ cash: '10.00', margin: '40.00' });
    // A second re-mark does not open a second call.
    await mark();
    expect((await x.client.get<{ items: CallRow[] }>('/v1/margin-calls')).body.items).toHaveLength(1);

    // It may reduce, not add.
    expectProblem(await order(x, series, 'BUY', '3.60', 1), 409, 'MARGIN_CALL_OPEN');
    expect((await order(z, series, 'BUY', '3.60', 2)).status).toBe(201);
    const reduce = await order(x, series, 'SELL', '3.60', 2);
    expect(reduce.status, reduce.text).toBe(201);
    expect(reduce.body.filledQuantity).toBe(2);

    // A deposit that covers it closes it (the deposit's close job).
    await fund(t, x, '100.00');
    const closed = await pollCalls(x, (items) => items[0]?.status === 'CLOSED');
    expect(closed).toEqual([expect.objectContaining({ type: 'MAINTENANCE', status: 'CLOSED' })]);
    expect((await order(x, series, 'BUY', '3.60', 1)).status).toBe(201);
  });

  it('a loss realised in a series the member no longer holds counts in equity until a run settles it', async () => {
    const product = await createProduct(t, { feePerContractFen: 0, initialMarginBp: 1_000, maintenanceMarginBp: 750 });
    const [held, closed] = [await createSeries(t, product), await createSeries(t, product)];
    const [x, y] = [await createMember(t, 'TRADER'), await createMember(t, 'TRADER')];
    await fund(t, x, '48.00');
    await fund(t, y, '1000.00');
    expect((await order(y, held, 'SELL', '4.00', 10)).status).toBe(201);
    expect((await order(x, held, 'BUY', '4.00', 10)).status).toBe(201); // IM 40.00, cash 8.00 (the 2 below need 8.00 more)
    // In and out of the other series: bought 2 at 5.00, sold 2 at 4.00. Both sides are flat there,
    // so no one holds margin in it, but x's loss of 2 × (400 − 500) × 10 = −20.00 is not settled yet.
    expect((await order(y, closed, 'SELL', '5.00', 2)).status).toBe(201);
    expect((await order(x, closed, 'BUY', '5.00', 2)).status).toBe(201);
    expect((await order(y, closed, 'BUY', '4.00', 2)).status).toBe(201);
    expect((await order(x, closed, 'SELL', '4.00', 2)).status).toBe(201);
    expect((await x.client.get(`/v1/members/${x.id}/balances`)).body).toMatchObject({ cash: '8.00', margin: '40.00' });
    await t.app.get(MaintenanceMarginService).intradayMark();
    // Equity 8.00 + 40.00 − 20.00 = 28.00 against maintenance 40.00 × 75 % = 30.00.
    const calls = (await x.client.get<{ items: CallRow[] }>('/v1/margin-calls')).body.items;
    expect(calls).toEqual([expect.objectContaining({ type: 'MAINTENANCE', status: 'OPEN', amount: '2.00' })]);
    expect((await y.client.get<{ items: CallRow[] }>('/v1/margin-calls')).body.items).toEqual([]);
  });

  it('resting quantities kept for the risk checks equal the live orders', async () => {
    await expectRestingConsistent(t.prisma);
  });
});
