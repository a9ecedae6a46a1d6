import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFen } from '../../src/platform/money/money.js';
import { isoDate } from '../../src/platform/time/business-date.js';
import { Clock } from '../../src/platform/time/clock.js';
import { waitForRun } from '../harness/settlement-helpers.js';
import { createMember, type TestMember } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';
import { expectRestingConsistent } from '../harness/market-checks.js';

// Product under test: 10M-token contracts (× 10), reference price 4.00 (400 fen), IM 10 %.
const MULT = 10n;
const REF = 400n;
const IM_BP = 1_000n;

/** Initial margin, written out here from the rule, independently of the service's code. */
function worstCase(net: number, restingBuy: number, restingSell: number): number {
  return Math.max(Math.max(0, net + restingBuy), Math.max(0, restingSell - net));
}

function marginFen(contracts: number, priceFen: bigint = REF): bigint {
  const exact = priceFen * MULT * BigInt(contracts) * IM_BP;
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
          const res = await order(
            c,
            seriesCodes[rnd(seriesCodes.length)],
            rnd(2) ? 'BUY' : 'SELL',
            price,
            1 + rnd(10),
            rnd(4) ? 'GTC' : 'IOC',
          );
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
      if (book.body.bids.length && book.body.asks.length)
        expect(Number(book.body.bids[0].price)).toBeLessThan(Number(book.body.asks[0].price));
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
          orders
            .filter((o) => o.memberId === p.memberId && o.side === side && (o.status === 'OPEN' || o.status === 'PARTIALLY_FILLED'))
            .reduce((n, o) => n + o.quantity - o.filledQuantity, 0);
        expect(p.marginQty).toBe(worstCase(longs - shorts, resting('BUY'), resting('SELL')));
      }
    }
    // Margin held = the margin of every position of the member, valued at its series' margin price
    // (the reference price until a daily run re-prices the series).
    const marginPrice = new Map((await t.prisma.series.findMany()).map((s) => [s.id, s.lastSettlementPriceFen ?? s.referencePriceFen]));
    for (const c of clients) {
      const held = (await t.prisma.position.findMany({ where: { memberId: c.id } })).reduce(
        (sum, p) => sum + marginFen(p.marginQty, marginPrice.get(p.seriesId)),
        0n,
      );
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

  it('an end-of-day run re-prices every series while orders keep arriving: margin held = recomputed at the new prices', async () => {
    const many = [await createSeries(t, product), await createSeries(t, product), await createSeries(t, product)];
    await storm(many, 6);
    const day = isoDate((await t.prisma.trade.findFirstOrThrow({ orderBy: { seq: 'desc' } })).businessDate);
    for (const [code, price] of [
      [many[0], '4.20'],
      [many[1], '3.90'],
      [many[2], '4.05'],
    ]) {
      expect((await t.clearing.post(`/v1/series/${code}/settlement-price`, { price, businessDate: day })).status).toBe(201);
    }
    t.app.get(Clock).set(new Date(Date.now() + 24 * 3_600_000)); // the business date has ended; trading goes on
    const during = storm(many, 12);
    await new Promise((r) => setTimeout(r, 300));
    const started = await t.clearing.post<{ items: { id: string; seriesCount: number }[] }>('/v1/settlement/runs', {
      type: 'DAILY',
      businessDate: day,
    });
    expect(started.status, started.text).toBe(201);
    expect(started.body.items).toHaveLength(1);
    for (const r of started.body.items) await waitForRun(t, r.id);
    const statuses = await during;
    expect(statuses.filter((x) => x >= 500)).toEqual([]);
    const repriced = await t.prisma.series.findMany({ where: { code: { in: many } }, orderBy: { code: 'asc' } });
    expect(repriced.map((x) => x.lastSettlementPriceFen)).toEqual([420n, 390n, 405n]);
    await checkInvariants(many);
  }, 120_000);

  it('several series in parallel: the same invariants hold for each', async () => {
    const many = [
      await createSeries(t, product),
      await createSeries(t, product),
      await createSeries(t, product),
      await createSeries(t, product),
    ];
    const statuses = await storm(many, 15);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    await checkInvariants(many);
  }, 120_000);

  it('resting quantities kept for the risk checks equal the live orders', async () => {
    await expectRestingConsistent(t.prisma);
  });
});
