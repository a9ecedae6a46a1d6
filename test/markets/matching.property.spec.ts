import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderBatcher } from '../../src/markets/order-batcher.js';
import { OrdersService, type PlacedOrder } from '../../src/markets/orders.service.js';
import { DomainError } from '../../src/platform/errors/error-codes.js';
import type { Principal } from '../../src/platform/http/request-context.js';
import { createMember, type TestMember } from '../harness/factories.js';
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
      this.trades.push({ price: best.price, qty: q, buyer: side === 'BUY' ? member : best.member, seller: side === 'SELL' ? member : best.member });
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

type Op = { kind: 'place'; member: number; side: 'BUY' | 'SELL'; price: number; qty: number; tif: 'GTC' | 'IOC' } | { kind: 'cancel'; index: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('place' as const), member: fc.integer({ min: 0, max: 3 }), side: fc.constantFrom('BUY' as const, 'SELL' as const), price: fc.integer({ min: 398, max: 402 }), qty: fc.integer({ min: 1, max: 6 }), tif: fc.constantFrom('GTC' as const, 'GTC' as const, 'IOC' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), index: fc.nat({ max: 60 }) }) },
);

describe('matching equals a reference order book on random order/cancel streams (fast-check)', () => {
  let t: TestApp;
  let members: TestMember[];
  let product: string;
  beforeAll(async () => {
    t = await startTestApp();
    members = [];
    for (let i = 0; i < 4; i++) {
      const m = await createMember(t, 'TRADER');
      await fund(t, m, '1000000.00');
      members.push(m);
    }
    product = await createProduct(t, { initialMarginBp: 100, maintenanceMarginBp: 50, feePerContractFen: 0 });
  });
  afterAll(() => t.close());

  // 'one by one': the single-order path, each order awaited. 'bursts': runs of orders sent
  // without waiting through the batcher, so they are matched several to a transaction; the
  // outcome must not depend on it (arrival order is call order).
  it.each(['one by one', 'bursts'] as const)('produces the same trades, statuses and resting book (%s)', async (mode) => {
    const service = t.app.get(OrdersService);
    const batcher = t.app.get(OrderBatcher);
    const principal = (i: number): Principal => ({ memberId: members[i].id, memberKind: 'TRADER', role: 'trader', keyId: members[i].keyId });
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const series = await createSeries(t, product);
        const ref = new ReferenceBook();
        const ids: string[] = [];
        const owners: number[] = [];
        const told: { status: string; filled: number }[] = [];
        const answers: PlacedOrder[] = [];
        let burst: Promise<PlacedOrder>[] = [];
        const settleBurst = async () => {
          for (const placed of await Promise.all(burst)) {
            ids.push(placed.order.id);
            answers.push(placed);
          }
          burst = [];
        };
        for (const op of ops) {
          if (op.kind === 'place') {
            const r = ref.place(op.member, op.side, op.price, op.qty, op.tif);
            told.push({ status: r.status, filled: r.filled });
            const input = { seriesCode: series, side: op.side, priceFen: BigInt(op.price), quantity: op.qty, timeInForce: op.tif };
            if (mode === 'bursts') burst.push(batcher.place(principal(op.member), input));
            else ids.push((await service.placeOne(principal(op.member), input)).order.id);
            owners.push(op.member);
          } else {
            await settleBurst();
            if (ids.length === 0) continue;
            const index = op.index % ids.length;
            const expectOk = ref.cancel(index);
            const res = await service.cancel(principal(owners[index]), ids[index]).then(() => true, (e: unknown) => {
              if (e instanceof DomainError && e.code === 'ORDER_NOT_OPEN') return false;
              throw e;
            });
            expect(res).toBe(expectOk);
          }
        }
        await settleBurst();
        const seriesId = (await t.prisma.series.findUniqueOrThrow({ where: { code: series } })).id;
        const trades = await t.prisma.trade.findMany({ where: { seriesId }, orderBy: { seq: 'asc' } });
        const memberIndex = (id: string) => members.findIndex((m) => m.id === id);
        expect(trades.map((x) => ({ price: Number(x.priceFen), qty: x.quantity, buyer: memberIndex(x.buyerId), seller: memberIndex(x.sellerId) }))).toEqual(ref.trades);
        const orders = await t.prisma.order.findMany({ where: { id: { in: ids } } });
        const byId = new Map(orders.map((o) => [o.id, o]));
        expect(ids.map((id) => ({ status: byId.get(id)!.status, filled: byId.get(id)!.filledQuantity }))).toEqual(ref.orders.map((o) => ({ status: o.status, filled: o.filled })));
        // Time priority: the service's order sequence is the arrival order.
        expect([...orders].sort((a, b) => Number(a.seq - b.seq)).map((o) => o.id)).toEqual(ids);
        if (mode === 'bursts') {
          // Each placer is told its order's state right after its own matching.
          expect(answers.map((p) => ({ status: p.order.status, filled: p.order.filledQuantity }))).toEqual(told);
        }
      }),
      { numRuns: 50 },
    );
  }, 180_000);
});
