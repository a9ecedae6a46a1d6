import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFen } from '../../src/platform/money/money.js';
import { createMember, type TestMember } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

// Product under test: 10M-token contracts (× 10), reference price 4.00 (400 fen), IM 10 %.
const MULT = 10n;
const REF = 400n;
const IM_BP = 1_000n;

/** Initial margin, written out here from the rule, independently of the service's code. */
function worstCase(net: number, restingBuy: number, restingSell: number): number {
  return Math.max(Math.max(0, net + restingBuy), Math.max(0, restingSell - net));
}

function marginFen(contracts: number): bigint {
  const exact = REF * MULT * BigInt(contracts) * IM_BP;
  return exact / 10_000n + (exact % 10_000n === 0n ? 0n : 1n);
}

describe('markets under concurrency (20 clients over HTTP)', () => {
  let t: TestApp;
  let clients: TestMember[];
  let product: string;

  beforeAll(async () => {
    t = await startTestApp();
    clients = [];
    for (let i = 0; i < 20; i++) {
      const m = await createMember(t, 'TRADER');
      await fund(t, m, '100000.00');
      clients.push(m);
    }
    product = await createProduct(t);
  });
  afterAll(() => t.close());

  async function storm(seriesCodes: string[], perClient: number): Promise<number[]> {
    let seed = 7;
    const rnd = (n: number) => (seed = (seed * 48_271) % 2_147_483_647) % n;
    const statuses: number[] = [];
    await Promise.all(
      clients.map(async (c) => {
        const mine: string[] = [];
        for (let i = 0; i < perClient; i++) {
          if (mine.length && rnd(6) === 0) {
            const res = await c.client.delete(`/v1/orders/${mine.splice(rnd(mine.length), 1)[0]}`);
            statuses.push(res.status);
            continue;
          }
          const price = formatFen(BigInt(395 + rnd(11))); // 3.95 … 4.05
          const res = await order(c, seriesCodes[rnd(seriesCodes.length)], rnd(2) ? 'BUY' : 'SELL', price, 1 + rnd(10), rnd(4) ? 'GTC' : 'IOC');
          statuses.push(res.status);
          if (res.status === 201 && res.body.status === 'OPEN') mine.push(res.body.id);
        }
      }),
    );
    return statuses;
  }

  async function checkInvariants(seriesCodes: string[]): Promise<void> {
    for (const code of seriesCodes) {
      const s = await t.prisma.series.findUniqueOrThrow({ where: { code } });
      const book = await t.clearing.get<{ bids: { price: string }[]; asks: { price: string }[] }>(`/v1/series/${code}/book`);
      if (book.body.bids.length && book.body.asks.length) expect(Number(book.body.bids[0].price)).toBeLessThan(Number(book.body.asks[0].price));
      const orders = await t.prisma.order.findMany({ where: { seriesId: s.id } });
      const trades = await t.prisma.trade.findMany({ where: { seriesId: s.id } });
      const filledByOrder = new Map<string, number>();
      for (const tr of trades) {
        for (const id of [tr.buyOrderId!, tr.sellOrderId!]) filledByOrder.set(id, (filledByOrder.get(id) ?? 0) + tr.quantity);
      }
      for (const o of orders) {
        expect(o.filledQuantity).toBeLessThanOrEqual(o.quantity);
        expect(o.filledQuantity).toBe(filledByOrder.get(o.id) ?? 0);
      }
      const positions = await t.prisma.position.findMany({ where: { seriesId: s.id } });
      for (const p of positions) {
        const longs = trades.filter((x) => x.buyerId === p.memberId).reduce((n, x) => n + x.quantity, 0);
        const shorts = trades.filter((x) => x.sellerId === p.memberId).reduce((n, x) => n + x.quantity, 0);
        expect([p.longQty, p.shortQty]).toEqual([longs, shorts]);
        const resting = (side: string) =>
          orders.filter((o) => o.memberId === p.memberId && o.side === side && (o.status === 'OPEN' || o.status === 'PARTIALLY_FILLED')).reduce((n, o) => n + o.quantity - o.filledQuantity, 0);
        expect(p.marginQty).toBe(worstCase(longs - shorts, resting('BUY'), resting('SELL')));
      }
    }
    // Margin held = the margin of every position of the member, valued at the (reference) margin price.
    for (const c of clients) {
      const held = (await t.prisma.position.findMany({ where: { memberId: c.id } })).reduce((sum, p) => sum + marginFen(p.marginQty), 0n);
      const account = await t.prisma.ledgerAccount.findUniqueOrThrow({ where: { code: `member:${c.id}:margin` } });
      expect(account.balanceFen).toBe(held);
    }
    await expectLedgerConsistent(t.prisma);
  }

  it('one series: never crossed, never over-filled, positions = Σ trades, margin held = recomputed, ledger balanced', async () => {
    const series = await createSeries(t, product);
    const statuses = await storm([series], 15);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThan(200);
    expect(await t.prisma.trade.count()).toBeGreaterThan(0);
    await checkInvariants([series]);
  }, 120_000);

  it('several series in parallel: the same invariants hold for each', async () => {
    const many = [await createSeries(t, product), await createSeries(t, product), await createSeries(t, product), await createSeries(t, product)];
    const statuses = await storm(many, 15);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    await checkInvariants(many);
  }, 120_000);
});
