import { createHash } from 'node:crypto';
import type { InferenceEngine, InferenceRequest, InferenceResult } from './inference.js';

const WORDS = [
  'tokens',
  'delivered',
  'clear',
  'settle',
  'yuan',
  'capacity',
  'node',
  'market',
  'future',
  'escrow',
  'model',
  'inference',
  'metered',
  'ledger',
  'price',
  'window',
];

/**
 * `--simulate`: a stand-in for an inference server, for demos and tests. Deterministic text
 * (the same request gives the same answer) at a set rate; `rate` 0 answers at once.
 */
export class SimulatedInference implements InferenceEngine {
  readonly description: string;

  constructor(private readonly tokensPerSecond: number) {
    this.description = `SIMULATED inference at ${tokensPerSecond > 0 ? `${tokensPerSecond} tokens/s` : 'instant speed'} (no real model)`;
  }

  async complete(req: InferenceRequest, signal?: AbortSignal): Promise<InferenceResult> {
    const started = performance.now();
    const seed = createHash('sha256').update(JSON.stringify(req.messages)).digest();
    const completionTokens = req.maxTokens;
    const words: string[] = [];
    for (let i = 0; i < completionTokens; i++) words.push(WORDS[seed[i % seed.length] % WORDS.length]);
    const promptTokens = Math.max(1, Math.ceil(req.messages.reduce((n, m) => n + m.content.length, 0) / 4));
    let ttftMs = 0;
    if (this.tokensPerSecond > 0) {
      const perToken = 1000 / this.tokensPerSecond;
      await sleep(perToken, signal);
      ttftMs = performance.now() - started;
      await sleep(perToken * (completionTokens - 1), signal);
    }
    return {
      output: words.join(' '),
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens },
      ttftMs,
      durationMs: performance.now() - started,
    };
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    });
  });
}
