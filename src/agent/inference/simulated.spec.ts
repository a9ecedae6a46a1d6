import { InferenceError } from './inference.js';
import { SIMULATED_WORDS, SimulatedInference, simulatedOutput } from './simulated.js';

const messages = (content: string) => [{ role: 'user' as const, content }];

describe('simulated output: a function of (messages, seed)', () => {
  it('the same messages and seed give the same text; another seed, or other messages, other text', async () => {
    const sim = new SimulatedInference(0);
    const run = (content: string, seed?: number) => sim.complete({ modelClass: 'x', messages: messages(content), maxTokens: 64, seed });
    const a = await run('Say hello', 7);
    expect((await run('Say hello', 7)).output).toBe(a.output);
    expect((await run('Say hello', 8)).output).not.toBe(a.output);
    expect((await run('Say hullo', 7)).output).not.toBe(a.output);
    // No seed is a seed of its own: deterministic too, and not the same as any number.
    expect((await run('Say hello')).output).toBe((await run('Say hello')).output);
    expect((await run('Say hello')).output).not.toBe((await run('Say hello', 0)).output);
  });

  it('is the same function in every agent version: a verifier reproduces an older agent’s answer', () => {
    // Pinned: an honest simulated node re-run by a verifier on another agent version must pass.
    expect(simulatedOutput(messages('tell me a story'), 42, 8)).toBe(' car area system money moment member city paper');
  });

  it('is maxTokens plain words, each with its leading space, drawn from the whole list', () => {
    const out = simulatedOutput(messages('tell me a story'), 42, 5_000);
    const words = out.split(' ');
    expect(words[0]).toBe(''); // it starts with a space
    expect(words.slice(1)).toHaveLength(5_000);
    expect(words.slice(1).every((w) => SIMULATED_WORDS.includes(w))).toBe(true);
    expect(new Set(words.slice(1)).size).toBe(SIMULATED_WORDS.length);
    expect(simulatedOutput(messages('tell me a story'), 42, 10)).toBe(words.slice(0, 11).join(' ')); // a prefix of the longer answer
  });

  it('flags its usage as estimated, and gives up as TIMEOUT past the job time limit', async () => {
    const r = await new SimulatedInference(0).complete({ modelClass: 'x', messages: messages('hi'), maxTokens: 3 });
    expect(r).toMatchObject({ usage: { completion_tokens: 3 }, usageEstimated: true });
    const started = Date.now();
    const err = await new SimulatedInference(10)
      .complete({ modelClass: 'x', messages: messages('hi'), maxTokens: 100, timeoutMs: 150 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InferenceError);
    expect(err).toMatchObject({ kind: 'TIMEOUT', retryable: true });
    expect(Date.now() - started).toBeLessThan(2_000); // not the 10 s the answer would take
  });
});
