import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, chain, GENESIS, headHash, verifyChain } from './trace-chain.js';

describe('trace chain', () => {
  it('canonical JSON: sorted keys at every depth, bigints as strings, dates ISO, no whitespace', () => {
    expect(canonicalJson({ b: 1n, a: { d: new Date('2026-01-02T03:04:05Z'), c: null }, e: [true, 'x'] })).toBe(
      '{"a":{"c":null,"d":"2026-01-02T03:04:05.000Z"},"b":"1","e":[true,"x"]}',
    );
  });

  it('each link hashes its content with the previous hash; any change moves the head', () => {
    const entries = [
      { kind: 'OBLIGATION' as const, id: 'o', content: { tokens: 1_000_000n } },
      { kind: 'TRANSFER' as const, id: 't', content: { kind: 'ESCROW_FUND', amountFen: 40_000n } },
    ];
    const links = chain(entries);
    expect(links[0].prevHash).toBe(GENESIS);
    expect(links[1].prevHash).toBe(links[0].hash);
    expect(links[0].hash).toBe(
      createHash('sha256')
        .update('{"content":{"tokens":"1000000"},"id":"o","kind":"OBLIGATION","prevHash":"' + GENESIS + '"}')
        .digest('hex'),
    );
    expect(verifyChain(links)).toBe(true);
    const tampered = chain([entries[0], { ...entries[1], content: { kind: 'ESCROW_FUND', amountFen: 40_001n } }]);
    expect(headHash(tampered)).not.toBe(headHash(links));
    expect(verifyChain([links[0], { ...links[1], content: { ...links[1].content, amountFen: '40001' } }])).toBe(false);
    expect(headHash([])).toBe(GENESIS);
  });
});
