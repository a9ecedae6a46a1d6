import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocate, type NetLong, type NetShort } from '../../src/delivery/domain/allocation.js';

const id = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

/** Random books: distinct members, each net long or net short, longs with opening times. */
const books = fc
  .array(
    fc.record({
      member: fc.integer({ min: 1, max: 500 }),
      net: fc.integer({ min: -40, max: 40 }).filter((n) => n !== 0),
      since: fc.integer({ min: 0, max: 20 }),
    }),
    { maxLength: 40 },
  )
  .map((rows) => {
    const seen = new Set<number>();
    const uniq = rows.filter((r) => !seen.has(r.member) && seen.add(r.member));
    const longs: NetLong[] = uniq
      .filter((r) => r.net > 0)
      .map((r) => ({ memberId: id(r.member), contracts: r.net, since: new Date(Date.UTC(2026, 10, 1) + r.since * 3_600_000) }));
    const shorts: NetShort[] = uniq.filter((r) => r.net < 0).map((r) => ({ memberId: id(r.member), contracts: -r.net }));
    return { longs, shorts };
  });

const sum = (xs: { contracts: number }[]) => xs.reduce((s, x) => s + x.contracts, 0);

describe('delivery allocation', () => {
  it('allocates every member exactly its net position (less only what the other side lacks)', () => {
    fc.assert(
      fc.property(books, ({ longs, shorts }) => {
        const a = allocate(longs, shorts);
        const paired = Math.min(sum(longs), sum(shorts));
        expect(sum(a.pairings)).toBe(paired);
        for (const l of longs) {
          const got =
            sum(a.pairings.filter((p) => p.buyerId === l.memberId)) + sum(a.unpairedLongs.filter((u) => u.memberId === l.memberId));
          expect(got).toBe(l.contracts);
        }
        for (const s of shorts) {
          const got =
            sum(a.pairings.filter((p) => p.sellerId === s.memberId)) + sum(a.unpairedShorts.filter((u) => u.memberId === s.memberId));
          expect(got).toBe(s.contracts);
        }
        // With balanced sides (no trader close-outs) nothing is left unpaired.
        if (sum(longs) === sum(shorts)) expect(a.unpairedLongs.length + a.unpairedShorts.length).toBe(0);
        expect(a.pairings.every((p) => p.contracts > 0)).toBe(true);
        expect(a.pairings.map((p) => p.seq)).toEqual(a.pairings.map((_, i) => i + 1));
      }),
      { numRuns: 500 },
    );
  });

  it('is deterministic whatever the input order', () => {
    fc.assert(
      fc.property(books, fc.integer(), ({ longs, shorts }, seed) => {
        const shuffle = <T>(xs: T[]) =>
          xs
            .map((x, i) => ({ x, k: (i * 7919 + seed) % 104729 }))
            .sort((a, b) => a.k - b.k)
            .map((e) => e.x);
        expect(allocate(shuffle(longs), shuffle(shorts))).toEqual(allocate(longs, shorts));
      }),
      { numRuns: 300 },
    );
  });

  it('serves the oldest longs first and takes shorts in member-id order', () => {
    fc.assert(
      fc.property(books, ({ longs, shorts }) => {
        const a = allocate(longs, shorts);
        const order = [...longs].sort((x, y) => x.since.getTime() - y.since.getTime() || (x.memberId < y.memberId ? -1 : 1));
        // A long is left (partly) unpaired only if every long after it in age order is entirely unpaired.
        const unpaired = new Map(a.unpairedLongs.map((u) => [u.memberId, u.contracts]));
        let sawUnpaired = false;
        for (const l of order) {
          const left = unpaired.get(l.memberId) ?? 0;
          if (sawUnpaired) expect(left).toBe(l.contracts);
          if (left > 0) sawUnpaired = true;
        }
        // Pairings walk buyers in age order and sellers in id order, never going back.
        const buyerRank = new Map(order.map((l, i) => [l.memberId, i]));
        const sellers = a.pairings.map((p) => p.sellerId);
        expect(sellers).toEqual([...sellers].sort());
        const ranks = a.pairings.map((p) => buyerRank.get(p.buyerId)!);
        expect(ranks).toEqual([...ranks].sort((x, y) => x - y));
      }),
      { numRuns: 500 },
    );
  });

  it('splits quantities as needed (worked example)', () => {
    const t = (h: number) => new Date(Date.UTC(2026, 11, 1, h));
    const a = allocate(
      [
        { memberId: id(9), contracts: 3, since: t(2) },
        { memberId: id(7), contracts: 4, since: t(1) },
      ],
      [
        { memberId: id(5), contracts: 2 },
        { memberId: id(3), contracts: 5 },
      ],
    );
    expect(a.pairings).toEqual([
      { seq: 1, sellerId: id(3), buyerId: id(7), contracts: 4 },
      { seq: 2, sellerId: id(3), buyerId: id(9), contracts: 1 },
      { seq: 3, sellerId: id(5), buyerId: id(9), contracts: 2 },
    ]);
  });
});
