import fc from 'fast-check';
import { computeFixing, firstBrokenLink, fixingHash, weightedPrice, type ChainedFixing } from './fixing.js';

const M = 1_000_000n;

describe('token index fixing', () => {
  it('hand-computed: trades (front month full, deferred half) and delivery prints, to the fen', () => {
    // Front month: 10M tokens at 4.00 and 30M at 4.20; deferred: 20M at 5.00 (weighs 10M);
    // deliveries: 20M tokens delivered at 3.90.
    // Σ p·w = 400·10 + 420·30 + 500·10 + 390·20 = 4,000 + 12,600 + 5,000 + 7,800 = 29,400 (×1M)
    // Σ w = 10 + 30 + 10 + 20 = 70 (×1M) → 29,400 / 70 = 420.0 → 4.20 CNY
    const f = computeFixing({
      trades: [
        { id: 't1', priceFen: 400n, tokens: 10n * M, frontMonth: true },
        { id: 't2', priceFen: 420n, tokens: 30n * M, frontMonth: true },
        { id: 't3', priceFen: 500n, tokens: 20n * M, frontMonth: false },
      ],
      deliveries: [{ obligationId: 'o1', priceFen: 390n, tokens: 20n * M }],
      minVolumeTokens: 50n * M,
    });
    expect(f).toEqual({
      priceFen: 420n,
      method: 'TRADES',
      volumeTokens: 80n * M,
      inputs: { trades: ['t1', 't2', 't3'], obligations: ['o1'] },
    });
  });

  it('rounds to the nearest fen, halves up', () => {
    expect(
      weightedPrice([
        { priceFen: 401n, weight: 1n },
        { priceFen: 402n, weight: 1n },
      ]),
    ).toBe(402n); // 401.5 → 402
    expect(
      weightedPrice([
        { priceFen: 401n, weight: 2n },
        { priceFen: 402n, weight: 1n },
      ]),
    ).toBe(401n); // 401.33 → 401
  });

  it('a thin day falls back in the stated order: trades → deliveries → previous → none', () => {
    const thinTrade = { id: 't', priceFen: 450n, tokens: 1n * M, frontMonth: true };
    const deliveries = [{ obligationId: 'o', priceFen: 380n, tokens: 60n * M }];
    const previous = { id: 'prev', priceFen: 410n };
    // Trades + deliveries reach the minimum: TRADES (the thin trade counts with the deliveries).
    expect(computeFixing({ trades: [thinTrade], deliveries, minVolumeTokens: 50n * M })?.method).toBe('TRADES');
    // No trade: deliveries alone.
    expect(computeFixing({ trades: [], deliveries, minVolumeTokens: 50n * M })).toMatchObject({ method: 'DELIVERIES', priceFen: 380n });
    // Too thin for both: the previous fixing, carried.
    expect(computeFixing({ trades: [thinTrade], deliveries: [], previous, minVolumeTokens: 50n * M })).toMatchObject({
      method: 'PREVIOUS',
      priceFen: 410n,
      volumeTokens: 0n,
      inputs: { previous: 'prev' },
    });
    expect(computeFixing({ trades: [thinTrade], deliveries: [], minVolumeTokens: 50n * M })).toBeUndefined();
  });

  it('property: the price lies between the lowest and highest print', () => {
    const print = fc.record({
      priceFen: fc.bigInt({ min: 1n, max: 100_000n }),
      tokens: fc.bigInt({ min: 1n, max: 10n ** 12n }),
      front: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(print, { minLength: 1, maxLength: 20 }), fc.array(print, { maxLength: 20 }), (ts, ds) => {
        const f = computeFixing({
          trades: ts.map((t, i) => ({ id: `t${i}`, priceFen: t.priceFen, tokens: t.tokens, frontMonth: t.front })),
          deliveries: ds.map((d, i) => ({ obligationId: `o${i}`, priceFen: d.priceFen, tokens: d.tokens })),
          minVolumeTokens: 0n,
        })!;
        const prices = [...ts, ...ds].map((p) => p.priceFen);
        expect(f.priceFen >= prices.reduce((a, b) => (a < b ? a : b))).toBe(true);
        expect(f.priceFen <= prices.reduce((a, b) => (a > b ? a : b))).toBe(true);
      }),
    );
  });

  it('the hash chain detects a changed or removed fixing', () => {
    const base: ChainedFixing[] = [1, 2, 3].map((d) => ({
      indexCode: 'TTI-70B',
      businessDate: `2026-12-0${d}`,
      priceFen: 400n + BigInt(d),
      method: 'TRADES',
      volumeTokens: 10n * M,
      inputs: { trades: [`t${d}`], obligations: [] },
      correctsId: null,
      reason: null,
    }));
    let prev: string | null = null;
    const chain = base.map((f, i) => {
      const hash = fixingHash(prev, f);
      prev = hash;
      return { ...f, id: `f${i}`, hash };
    });
    expect(firstBrokenLink(chain)).toBeUndefined();
    expect(firstBrokenLink([chain[0], { ...chain[1], priceFen: 999n }, chain[2]])?.id).toBe('f1');
    expect(firstBrokenLink([chain[0], chain[2]])?.id).toBe('f2');
    // A stored prevHash that does not name the link before is a break too.
    expect(
      firstBrokenLink([
        { ...chain[0], prevHash: null },
        { ...chain[1], prevHash: 'x'.repeat(64) },
      ])?.id,
    ).toBe('f1');
  });

  it('hashes JSON inputs canonically: the key order JSONB hands back does not matter', () => {
    const f: ChainedFixing = {
      indexCode: 'TTI-8B',
      businessDate: '2026-12-01',
      priceFen: 410n,
      method: 'PREVIOUS',
      volumeTokens: 0n,
      inputs: { trades: [], obligations: [], previous: 'p' },
      correctsId: null,
      reason: null,
    };
    expect(fixingHash(null, { ...f, inputs: { previous: 'p', trades: [], obligations: [] } })).toBe(fixingHash(null, f));
    expect(fixingHash(null, { ...f, inputs: { previous: 'q', trades: [], obligations: [] } })).not.toBe(fixingHash(null, f));
  });
});
