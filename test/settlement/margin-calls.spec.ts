import { CronExpressionParser } from 'cron-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eodPattern, schedules } from '../../src/platform/queues/job-registry.js';
import { LedgerService } from '../../src/ledger/ledger.service.js';
import { HOUSE, memberAccount } from '../../src/ledger/ledger.types.js';
import { Clock } from '../../src/platform/time/clock.js';
import { EodHandler } from '../../src/settlement/eod.handler.js';
import { createMember, type TestMember } from '../harness/factories.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { settle } from '../harness/settlement-helpers.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

type CallRow = { status: string };

/** Lists the member's margin calls until `done` holds, for up to 10 s (the worker closes them, not the read). */
async function pollMarginCalls(m: TestMember, done: (items: CallRow[]) => boolean): Promise<CallRow[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await m.client.get<{ items: CallRow[] }>('/v1/margin-calls');
    expect(res.status, res.text).toBe(200);
    if (done(res.body.items) || Date.now() > deadline) return res.body.items;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('margin calls and the end-of-day schedule', () => {
  let t: TestApp;
  let clock: Clock;
  beforeAll(async () => {
    t = await startTestApp();
    clock = t.app.get(Clock);
    clock.set(new Date('2026-12-01T03:00:00Z'));
  });
  afterAll(() => t.close());

  it('opens a margin call for negative cash after a run and closes it when a deposit covers it', async () => {
    const d = await createMember(t, 'TRADER');
    const e = await createMember(t, 'TRADER');
    await fund(t, d, '4.10');
    await fund(t, e, '100.00');
    const product = await createProduct(t, { feePerContractFen: 0 });
    await createSeries(t, product, {
      code: 'MC-1',
      lastTradingAt: '2026-12-20T07:00:00Z',
      deliveryStart: '2026-12-21T00:00:00Z',
      deliveryEnd: '2026-12-31T00:00:00Z',
    });
    await order(e, 'MC-1', 'SELL', '4.00', 1);
    await order(d, 'MC-1', 'BUY', '4.00', 1); // IM 4.00 held, 0.10 free
    await t.clearing.post('/v1/series/MC-1/settlement-price', { price: '3.50', businessDate: '2026-12-01' });
    clock.set(new Date('2026-12-01T07:30:00Z'));
    await settle(t, { type: 'DAILY', series: 'MC-1', businessDate: '2026-12-01' });
    // VM (1×350 − 1×400)×10 = −5.00 by right; IM at 3.50 = 3.50 (0.50 released): cash 0.10 − 5.00 + 0.50 = −4.40
    expect((await d.client.get(`/v1/members/${d.id}/balances`)).body).toMatchObject({ cash: '-4.40', margin: '3.50' });
    const open = await d.client.get<{ items: { amount: string; status: string; dueAt: string; overdue: boolean }[] }>('/v1/margin-calls');
    expect(open.body.items).toEqual([
      expect.objectContaining({ amount: '4.40', status: 'OPEN', dueAt: '2026-12-02T07:00:00.000Z', overdue: false }),
    ]);
    expect((await e.client.get<{ items: unknown[] }>('/v1/margin-calls')).body.items).toEqual([]);

    await fund(t, d, '5.00');
    // The deposit enqueued the close with its money; the worker closes the call (reading never does).
    const closed = await pollMarginCalls(d, (items) => items[0]?.status === 'CLOSED');
    expect(closed).toEqual([expect.objectContaining({ status: 'CLOSED' })]);
  });

  it('flags calls past their due time as overdue for clearing staff', async () => {
    const m = await createMember(t, 'TRADER');
    // Collected by right (e.g. variation margin): free cash goes to −1.00.
    await t.prisma.$transaction((tx) =>
      t.app.get(LedgerService).post(tx, [
        {
          idempotencyKey: 'overdue-vm',
          debit: memberAccount(m.id, 'CASH'),
          credit: HOUSE.ccpSettlement,
          amountFen: 100n,
          kind: 'VARIATION_MARGIN',
          businessDate: '2026-11-30',
          collectByRight: true,
        },
      ]),
    );
    await t.prisma.marginCall.create({
      data: { memberId: m.id, amountFen: 100n, businessDate: new Date('2026-11-30T00:00:00Z'), dueAt: new Date('2026-12-01T07:00:00Z') },
    });
    const rows = await t.clearing.get<{ items: { memberId: string; status: string; overdue: boolean; amount: string }[] }>(
      '/v1/margin-calls?status=OPEN',
    );
    expect(rows.body.items.find((c) => c.memberId === m.id)).toMatchObject({ status: 'OPEN', overdue: true, amount: '1.00' });
  });

  it('reading margin calls writes nothing, even a call whose cash is covered again', async () => {
    // Free cash 0 covers the call, yet no money moved since it opened: only a deposit or a run closes it.
    const m = await createMember(t, 'TRADER');
    await t.prisma.marginCall.create({
      data: { memberId: m.id, amountFen: 100n, businessDate: new Date('2026-11-30T00:00:00Z'), dueAt: new Date('2026-12-01T07:00:00Z') },
    });
    const snapshot = () => t.prisma.$queryRaw<Record<string, unknown>[]>`SELECT * FROM margin_calls ORDER BY id`;
    const before = await snapshot();
    for (const client of [m.client, m.client, t.clearing, t.clearing]) {
      const res = await client.get<{ items: { memberId: string; status: string }[] }>('/v1/margin-calls');
      expect(res.status, res.text).toBe(200);
      expect(res.body.items.find((c) => c.memberId === m.id)).toMatchObject({ status: 'OPEN' });
    }
    expect(await snapshot()).toEqual(before);
  });

  it('fires the end-of-day job at the cut-off in Asia/Shanghai', () => {
    expect(eodPattern('15:00')).toBe('0 15 * * *');
    const eod = schedules({ ...t.config, eodCutoff: '15:00' }).find((s) => s.job === 'settlement.eod')!;
    expect(eod.repeat).toEqual({ pattern: '0 15 * * *' });
    // From an injected "now" of 2026-12-01 10:00 UTC (18:00 Shanghai) the next firing is 2026-12-02 15:00 Shanghai.
    const next = CronExpressionParser.parse('0 15 * * *', { currentDate: new Date('2026-12-01T10:00:00Z'), tz: 'Asia/Shanghai' }).next();
    expect(next.toISOString()).toBe('2026-12-02T07:00:00.000Z');
    const sameDay = CronExpressionParser.parse(eodPattern('15:00'), {
      currentDate: new Date('2026-12-01T06:59:00Z'),
      tz: 'Asia/Shanghai',
    }).next();
    expect(sameDay.toISOString()).toBe('2026-12-01T07:00:00.000Z');
  });

  it('at the cut-off, opens the DAILY run of each trading series for the day that just ended', async () => {
    clock.set(new Date('2026-12-02T07:00:00Z')); // the cut-off instant: business date 12-03 begins
    const result = await t.app.get(EodHandler).endOfDay();
    expect(result).toEqual({ businessDate: '2026-12-02', runs: 1 });
    const runs = await t.prisma.settlementRun.findMany({ where: { businessDate: new Date('2026-12-02T00:00:00Z') } });
    expect(runs.map((r) => r.type)).toEqual(['DAILY']);
    expect((await t.app.get(EodHandler).endOfDay()).runs).toBe(1);
    expect(await t.prisma.settlementRun.count({ where: { businessDate: new Date('2026-12-02T00:00:00Z') } })).toBe(1);
    // Clearing staff may do the same by hand: without a series, every eligible series.
    const all = await t.clearing.post<{ items: { series: string; businessDate: string }[] }>('/v1/settlement/runs', {
      type: 'DAILY',
      businessDate: '2026-12-02',
    });
    expect(all.status, all.text).toBe(201);
    expect(all.body.items).toEqual([expect.objectContaining({ series: 'MC-1', businessDate: '2026-12-02' })]);
    expect(await t.prisma.settlementRun.count({ where: { businessDate: new Date('2026-12-02T00:00:00Z') } })).toBe(1);
  });
});
