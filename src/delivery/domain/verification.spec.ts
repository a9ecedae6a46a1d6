import { createHash, randomUUID } from 'node:crypto';
import { seedFor, selectedForVerification, valueAtObligationPrice, verdict, verificationPenaltyFen } from './verification.js';

describe('verification sampling', () => {
  const KEY = 'k'.repeat(32);

  it('selects about verificationBp of jobs, the same jobs every time under one key', () => {
    const ids = Array.from({ length: 20_000 }, () => randomUUID());
    const chosen = ids.filter((id) => selectedForVerification(id, 200, KEY));
    expect(chosen.length).toBeGreaterThan(300); // 2 % of 20,000 = 400
    expect(chosen.length).toBeLessThan(500);
    expect(chosen.every((id) => selectedForVerification(id, 200, KEY))).toBe(true);
    expect(ids.some((id) => selectedForVerification(id, 0, KEY))).toBe(false);
    expect(ids.every((id) => selectedForVerification(id, 10_000, KEY))).toBe(true);
  });

  it('cannot be predicted from the job id without the key (a dishonest node knows every id it leases)', () => {
    const ids = Array.from({ length: 4_000 }, () => randomUUID());
    // What a node could compute from public code alone: the unkeyed hash the sample once used.
    const predicted = (id: string) => createHash('sha256').update(`verify:${id}`).digest().readUInt32BE(0) % 10_000 < 5_000;
    const safe = ids.filter((id) => !predicted(id));
    const caught = safe.filter((id) => selectedForVerification(id, 5_000, KEY));
    // The jobs the node would cheat on are sampled like any others: about half of them.
    expect(caught.length / safe.length).toBeGreaterThan(0.4);
    expect(caught.length / safe.length).toBeLessThan(0.6);
    // Another key, another sample.
    const other = ids.filter((id) => selectedForVerification(id, 5_000, 'o'.repeat(32)) !== selectedForVerification(id, 5_000, KEY));
    expect(other.length / ids.length).toBeGreaterThan(0.4);
  });

  it('derives a stable positive 31-bit seed per job, which a node cannot compute from the id', () => {
    const id = randomUUID();
    expect(seedFor(id, KEY)).toBe(seedFor(id, KEY));
    expect(seedFor(id, KEY)).toBeGreaterThanOrEqual(0);
    expect(seedFor(id, KEY)).toBeLessThan(2 ** 31);
    expect(seedFor(randomUUID(), KEY)).not.toBe(seedFor(id, KEY));
    expect(seedFor(id, 'o'.repeat(32))).not.toBe(seedFor(id, KEY));
    // Not the public hash of the id it once was (a node could check a re-run's seed against it).
    expect(seedFor(id, KEY)).not.toBe(createHash('sha256').update(`seed:${id}`).digest().readUInt32BE(0) & 0x7fffffff);
  });

  it('passes at or above the threshold', () => {
    expect(verdict(9_000, 9_000)).toBe('PASSED');
    expect(verdict(8_999, 9_000)).toBe('FAILED');
  });
});

describe('verification money', () => {
  const o = { notionalFen: 40_000n, tokens: 1_000_000n };
  it('values tokens at the obligation price, rounded down', () => {
    expect(valueAtObligationPrice(o, 42n)).toBe(1n);
    expect(valueAtObligationPrice({ notionalFen: 4_000_000n, tokens: 1_000_000n }, 42n)).toBe(168n);
    expect(valueAtObligationPrice({ notionalFen: 1n, tokens: 0n }, 42n)).toBe(0n);
  });
  it('penalises penaltyBp of the job value, rounded against the seller', () => {
    expect(verificationPenaltyFen({ notionalFen: 4_000_000n, tokens: 1_000_000n }, 42n, 2_000)).toBe(34n);
    expect(verificationPenaltyFen({ notionalFen: 4_000_000n, tokens: 1_000_000n }, 50n, 2_000)).toBe(40n);
    expect(verificationPenaltyFen(o, 10n, 2_000)).toBe(0n);
  });
});
