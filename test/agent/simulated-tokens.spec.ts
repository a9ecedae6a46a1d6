import { describe, expect, it } from 'vitest';
import { SIMULATED_WORDS, simulatedOutput } from '../../src/agent/inference/simulated.js';
import { countCompletionTokens } from '../../src/delivery/counting/chat-template.js';
import { loadTokenizer, TOKENIZERS } from '../../src/delivery/counting/tokenizers.js';

// The server counts delivered tokens with these tokenizers (SPEC §6.1): a simulated answer of
// maxTokens words must count as maxTokens tokens, or every simulated node would look like a cheat.
describe.each(TOKENIZERS)('simulated words under %s', (name) => {
  it('each word, with its leading space, is one token', async () => {
    const enc = await loadTokenizer(name);
    const multi = SIMULATED_WORDS.filter((w) => enc.encode(` ${w}`).length !== 1);
    expect(multi).toEqual([]);
  });

  it('an answer of n words counts as n tokens', async () => {
    const enc = await loadTokenizer(name);
    for (const seed of [1, 2, 3])
      expect(countCompletionTokens(enc, simulatedOutput([{ role: 'user', content: 'q' }], seed, 500))).toBe(500);
  });
});
