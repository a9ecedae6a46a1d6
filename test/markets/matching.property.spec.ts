import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderBatcher } from '../../src/markets/order-batcher.js';
import { OrdersService, type PlacedOrder } from '../../src/markets/orders.service.js';
import { DomainError } from '../../src/platform/errors/error-codes.js';
import type { Principal } from '../../src/platform/http/request-context.js';
import { createMember, type TestMember } from '../harness/factories.js';
import { expectRestingConsistent } from '../harness/market-checks.js';
import { createProduct, createSeries, fund } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

// A deliberately simple in-memory order book: arrays scanned in full, no cleverness. The
// service must produce exactly its trades and resting book for any stream of orders and cancels.
interface RefOrder {
  id: number;
  member: number;
  side: 'BUY' | 'SELL';
  price: number;
  qty: number;
  filled: number;
  status: 'OPEN' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELLED';
}
interface RefTrade {
  price: number;
  qty: number;
  buyer: number;
  seller: number;
}

class ReferenceBook {
  orders: RefOrder[] = [];
  trades: RefTrade[] = [];

  place(member: number, side: 'BUY' | 'SELL', price: number, qty: number, tif: 'GTC' | 'IOC'): RefOrder {
    const o: RefOrder = { id: this.orders.length, member, side, price, qty, filled: 0, status: 'OPEN' };
    const open = (x: RefOrder) => x.status === 'OPEN' || x.status === 'PARTIALLY_FILLED';
    for (;;) {
      if (o.filled === o.qty) break;
      const candidates = this.orders.filter((x) => open(x) && x.side !== side && (side === 'BUY' ? x.price <= price : x.price >= price));
      if (candidates.length === 0) break;
      candidates.sort((x, y) => (side === 'BUY' ? x.price - y.price : y.price - x.price) || x.id - y.id);
      const best = candidates[0];
      if (best.member === member) {
        best.status = 'CANCELLED';
        continue;
      }
      const q = Math.min(o.qty - o.filled, best.qty - best.filled);
      best.filled += q;
      o.filled += q;
      best.status = best.filled === best.qty ? 'FILLED' : 'PARTIALLY_FILLED';
      this.trades.push({
        price: best.price,
        qty: q,
        buyer: side === 'BUY' ? member : best.member,
        seller: side === 'SELL' ? member : best.member,
      });
    }
    o.status = o.filled === o.qty ? 'FILLED' : tif === 'IOC' ? 'CANCELLED' : o.filled > 0 ? 'PARTIALLY_FILLED' : 'OPEN';
    this.orders.push(o);
    return o;
  }

  cancel(id: number): boolean {
    const o = this.orders[id];
    if (!o || (o.status !== 'OPEN' && o.status !== 'PARTIALLY_FILLED')) return false;
    o.status = 'CANCELLED';
    return true;
  }
}

type Op =
  | { kind: 'place'; series: number; member: number; side: 'BUY' | 'SELL'; price: number; qty: number; tif: 'GTC' | 'IOC' }
  | { kind: 'cancel'; index: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('place' as const),
      series: fc.integer({ min: 0, max: 1 }),
      member: fc.integer({ min: 0, max: 3 }),
      side: fc.constantFrom('BUY' as const, 'SELL' as const),
      price: fc.integer({ min: 398, max: 402 }),
      qty: fc.integer({ min: 1, max: 6 }),
      tif: fc.constantFrom('GTC' as const, 'GTC' as const, 'IOC' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), index: fc.nat({ max: 60 }) }) },
);

describe('matching equals a reference order book on random order/cancel streams (fast-check)', () => {
  let t: TestApp;
  let members: TestMember[];
  let product: string;
  beforeAll(async () => {
    // One matching lane: orders of both series share batches (and the members' cash).
    t = await startTestApp({ env: { ORDER_BATCH_LANES: '1' } });
    members = [];
    for (let i = 0; i < 4; i++) {
      const m = await createMember(t, 'TRADER');
      await fund(t, m, '1000000.00');
      members.push(m);
    }
    product = await createProduct(t, { initialMarginBp: 100, maintenanceMarginBp: 50, feePerContractFen: 0 });
  });
  afterAll(() => t.close());

  // 'one by one': each order awaited (a batch of one). 'bursts': runs of orders sent without
  // waiting, so they are matched several to a transaction, across
  // two series (which share the members' cash); the outcome must not depend on it (arrival
  // order is call order).
  it.each(['one by one', 'bursts'] as const)(
    'produces the same trades, statuses and resting book (%s)',
    async (mode) => {
      const service = t.app.get(OrdersService);
      const batcher = t.app.get(OrderBatcher);
      const principal = (i: number): Principal => ({
        memberId: members[i].id,
        memberKind: 'TRADER',
        role: 'trader',
        keyId: members[i].keyId,
      });
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
          const series = [await createSeries(t, product), await createSeries(t, product)];
          const refs = [new ReferenceBook(), new ReferenceBook()];
          // Every placed order, in arrival order: its series, its index in that series' reference, its owner.
          const placed: { series: number; ref: number; member: number; id?: string }[] = [];
          const told: { status: string; filled: number }[] = [];
          const answers: PlacedOrder[] = [];
          let burst: Promise<PlacedOrder>[] = [];
          const settleBurst = async () => {
            answers.push(...(await Promise.all(burst)));
            answers.forEach((a, i) => (placed[i].id = a.order.id));
            burst = [];
          };
          for (const op of ops) {
            if (op.kind === 'place') {
              const r = refs[op.series].place(op.member, op.side, op.price, op.qty, op.tif);
              told.push({ status: r.status, filled: r.filled });
              placed.push({ series: op.series, ref: r.id, member: op.member });
              const input = {
                seriesCode: series[op.series],
                side: op.side,
                priceFen: BigInt(op.price),
                quantity: op.qty,
                timeInForce: op.tif,
              };
              if (mode === 'bursts') burst.push(batcher.place(principal(op.member), input));
              else answers.push(await batcher.place(principal(op.member), input));
              placed[placed.length - 1].id = answers[placed.length - 1]?.order.id;
            } else {
              await settleBurst();
              if (placed.length === 0) continue;
              const target = placed[op.index % placed.length];
              const expectOk = refs[target.series].cancel(target.ref);
              const res = await service.cancel(principal(target.member), target.id!).then(
                () => true,
                (e: unknown) => {
                  if (e instanceof DomainError && e.code === 'ORDER_NOT_OPEN') return false;
                  throw e;
                },
              );
              expect(res).toBe(expectOk);
            }
          }
          await settleBurst();
          const memberIndex = (id: string) => members.findIndex((m) => m.id === id);
          const orders = await t.prisma.order.findMany({ where: { id: { in: placed.map((p) => p.id!) } } });
          const byId = new Map(orders.map((o) => [o.id, o]));
          for (const s of [0, 1]) {
            const seriesId = (await t.prisma.series.findUniqueOrThrow({ where: { code: series[s] } })).id;
            const trades = await t.prisma.trade.findMany({ where: { seriesId }, orderBy: { seq: 'asc' } });
            expect(
              trades.map((x) => ({
                price: Number(x.priceFen),
                qty: x.quantity,
                buyer: memberIndex(x.buyerId),
                seller: memberIndex(x.sellerId),
              })),
            ).toEqual(refs[s].trades);
            const mine = placed.filter((p) => p.series === s);
            expect(mine.map((p) => ({ status: byId.get(p.id!)!.status, filled: byId.get(p.id!)!.filledQuantity }))).toEqual(
              refs[s].orders.map((o) => ({ status: o.status, filled: o.filled })),
            );
          }
          // Time priority: within a series, the service's order sequence is the arrival order.
          for (const s of [0, 1]) {
            const ids = new Set(placed.filter((p) => p.series === s).map((p) => p.id));
            expect(
              orders
                .filter((o) => ids.has(o.id))
                .sort((a, b) => Number(a.seq - b.seq))
                .map((o) => o.id),
            ).toEqual([...ids]);
          }
          // Each placer is told its order's state right after its own matching.
          expect(answers.map((p) => ({ status: p.order.status, filled: p.order.filledQuantity }))).toEqual(told);
          // The resting quantities the risk checks read are the reference book's live orders.
          await expectRestingConsistent(t.prisma);
          for (const s of [0, 1]) {
            const seriesId = (await t.prisma.series.findUniqueOrThrow({ where: { code: series[s] } })).id;
            const kept = await t.prisma.restingQuantity.findMany({ where: { seriesId } });
            for (const [i, m] of members.entries()) {
              const live = refs[s].orders.filter((o) => o.member === i && (o.status === 'OPEN' || o.status === 'PARTIALLY_FILLED'));
              const left = (side: 'BUY' | 'SELL') => live.filter((o) => o.side === side).reduce((a, o) => a + o.qty - o.filled, 0);
              const row = kept.find((k) => k.memberId === m.id);
              expect({ buy: row?.buyQty ?? 0, sell: row?.sellQty ?? 0 }).toEqual({ buy: left('BUY'), sell: left('SELL') });
            }
          }
        }),
        { numRuns: 50 },
      );
    },
    180_000,
  );
});
