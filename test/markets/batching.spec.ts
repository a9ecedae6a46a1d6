import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerService } from '../../src/ledger/ledger.service.js';
import { memberAccount } from '../../src/ledger/ledger.types.js';
import { OrderBatcher } from '../../src/markets/order-batcher.js';
import type { PlacedOrder } from '../../src/markets/orders.service.js';
import { DomainError } from '../../src/platform/errors/error-codes.js';
import type { Principal } from '../../src/platform/http/request-context.js';
import { Metrics } from '../../src/platform/metrics/metrics.js';
import { createMember, type TestMember } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

// Code-unit order (ids are ASCII): the same whatever the locale.
const compareText = (x: string | null, y: string | null): number => ((x ?? '') < (y ?? '') ? -1 : (x ?? '') > (y ?? '') ? 1 : 0);

// Product: 10M-token contracts (× 10), reference 4.00, IM 10 %: a 3.90 bid of one contract holds
// 4.00 of margin (at the reference price); fee 0.05 per contract traded.
describe('order batches: judged in arrival order, and placed one by one when a batch cannot commit', () => {
  let t: TestApp;
  let batcher: OrderBatcher;
  let product: string;
  const principal = (m: TestMember): Principal => ({ memberId: m.id, memberKind: 'TRADER', role: 'trader', keyId: m.keyId });
  const bid = (m: TestMember, series: string, quantity: number) =>
    batcher.place(principal(m), { seriesCode: series, side: 'BUY', priceFen: 390n, quantity, timeInForce: 'GTC' });
  const outcome = (p: Promise<PlacedOrder>) =>
    p.then(
      (r) => r.order.status as string,
      (e: unknown) => (e instanceof DomainError ? e.code : String(e)),
    );
  /** A fresh series and one funded TRADER per amount. */
  async function market(...funds: string[]): Promise<{ series: string; members: TestMember[] }> {
    const series = await createSeries(t, product);
    const members: TestMember[] = [];
    for (const amount of funds) {
      const m = await createMember(t, 'TRADER');
      await fund(t, m, amount);
      members.push(m);
    }
    return { series, members };
  }
  const expectFunds = async (m: TestMember, cash: string, margin: string) => {
    expect((await t.clearing.get<Record<string, string>>(`/v1/members/${m.id}/balances`)).body).toMatchObject({ cash, margin });
    await expectLedgerConsistent(t.prisma);
  };
  const fallbacks = async () =>
    (await t.app.get(Metrics).registry.getSingleMetric('order_batch_fallbacks_total')!.get()).values[0]?.value ?? 0;

  beforeAll(async () => {
    t = await startTestApp();
    batcher = t.app.get(OrderBatcher);
    product = await createProduct(t);
  });
  afterAll(() => t.close());

  it('rejects, inside one batch, the order whose margin the earlier orders of the same member already used', async () => {
    const {
      series,
      members: [blocker, m],
    } = await market('100.00', '10.00');
    const before = await fallbacks();
    // A lane runs one batch at a time: the blocker's first order takes it; the other four wait and form the next.
    const blockers = [outcome(bid(blocker, series, 1)), outcome(bid(blocker, series, 1))];
    const results = await Promise.all([...blockers, outcome(bid(m, series, 2)), outcome(bid(m, series, 1)), outcome(bid(m, series, 1))]);
    // 8.00 of margin for the first two contracts; the third (4.00 more) exceeds 10.00; the fourth too.
    expect(results).toEqual(['OPEN', 'OPEN', 'OPEN', 'INSUFFICIENT_MARGIN', 'INSUFFICIENT_MARGIN']);
    expect(await fallbacks()).toBe(before);
    await expectFunds(m, '2.00', '8.00');
  });

  it('when cash moves between the batch reading it and posting, the ledger refuses, the batch rolls back and its orders are placed one by one', async () => {
    const {
      series,
      members: [blocker, m, c],
    } = await market('100.00', '10.00', '100.00');
    const before = await fallbacks();
    const ledger = t.app.get(LedgerService);

    let results: string[] = [];
    // A withdrawal of 5.00 holds M's cash row while the batch reads 10.00 and decides M's order fits.
    await t.prisma.$transaction(
      async (tx) => {
        await tx.$queryRaw`SELECT id FROM ledger_accounts WHERE "memberId" = ${m.id}::uuid AND type = 'CASH' FOR UPDATE`;
        // The blocker's first order takes the lane's batch; the other three form the next one.
        const placed = Promise.all([
          outcome(bid(blocker, series, 1)),
          outcome(bid(blocker, series, 1)),
          outcome(bid(m, series, 2)),
          outcome(bid(c, series, 1)),
        ]);
        // Wait until the batch of M and C is blocked on M's cash row (a wait for this transaction's
        // id), in the ledger posting — not merely on a series lock ('advisory').
        for (let i = 0; i < 400; i++) {
          const [w] = await t.prisma.$queryRaw<
            { n: number }[]
          >`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'transactionid'`;
          if (w.n > 0) break;
          await new Promise((r) => setTimeout(r, 25));
        }
        await ledger.postBatch(tx, [
          {
            idempotencyKey: `test.hold.${m.id}`,
            debit: memberAccount(m.id, 'CASH'),
            credit: memberAccount(m.id, 'PENDING'),
            amountFen: 500n,
            kind: 'WITHDRAWAL_HOLD',
            businessDate: '2026-11-25',
          },
        ]);
        void placed.then((r) => (results = r));
      },
      { timeout: 20_000 },
    );
    for (let i = 0; i < 200 && results.length === 0; i++) await new Promise((r) => setTimeout(r, 25));

    // One by one: M's 8.00 of margin no longer fits its 5.00; C's order is unaffected.
    expect(results).toEqual(['OPEN', 'OPEN', 'INSUFFICIENT_MARGIN', 'OPEN']);
    expect(await fallbacks()).toBe(before + 1);
    expect(await t.prisma.order.count({ where: { memberId: m.id } })).toBe(0);
    await expectFunds(m, '5.00', '0.00');
  });

  it("writes each accepted order's success audit event in the order's own transaction, once; a rejection is audited as a failure", async () => {
    const {
      series,
      members: [a, b, poor],
    } = await market('100.00', '100.00', '1.00');
    const responses = await Promise.all([
      order(a, series, 'BUY', '3.90', 1, 'GTC'),
      order(b, series, 'SELL', '3.90', 1, 'GTC'),
      order(poor, series, 'BUY', '3.90', 1, 'GTC'),
      order(a, series, 'BUY', '3.91', 2, 'GTC'),
    ]);
    expect(responses.map((r) => r.status)).toEqual([201, 201, 422, 201]);
    const accepted = responses.filter((r) => r.status === 201).map((r) => r.body.id);
    const events = await t.prisma.auditEvent.findMany({
      where: { action: 'markets.order.place', actorMemberId: { in: [a.id, b.id, poor.id] } },
    });
    const successes = events.filter((e) => e.outcome === 'SUCCESS');
    expect(successes.map((e) => e.targetId).sort(compareText)).toEqual([...accepted].sort(compareText));
    expect(new Set(successes.map((e) => e.requestId)).size).toBe(3);
    expect(successes.every((e) => e.targetType === 'order' && e.role === 'trader' && e.httpStatus === 201)).toBe(true);
    // Same transaction: now() is the transaction's start, so the event and the order share it.
    const orders = new Map((await t.prisma.order.findMany({ where: { id: { in: accepted } } })).map((o) => [o.id, o.createdAt.getTime()]));
    for (const e of successes) expect(e.createdAt.getTime()).toBe(orders.get(e.targetId!));
    expect(events.filter((e) => e.outcome === 'FAILURE').map((e) => [e.actorMemberId, e.errorCode, e.httpStatus])).toEqual([
      [poor.id, 'INSUFFICIENT_MARGIN', 422],
    ]);
    // The hash chain holds across events written in order transactions and by the request path.
    const [broken] = await t.prisma.$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM audit_events a
      WHERE a."prevHash" IS DISTINCT FROM (SELECT b.hash FROM audit_events b WHERE b.seq < a.seq ORDER BY b.seq DESC LIMIT 1)`;
    expect(broken.n).toBe(0);
  });
});
