import { hash } from 'node:crypto';
import {
  DEFAULT_INFERENCE_TIMEOUT_MS,
  InferenceError,
  type InferenceEngine,
  type InferenceRequest,
  type InferenceResult,
} from './inference.js';

/**
 * Common English words, each one token with its leading space in every tokenizer the clearing
 * house counts with (qwen3, llama3, deepseek-v3; test/agent/simulated-tokens.spec.ts checks), so
 * n simulated words are n counted tokens. 128 of them: one byte of hash picks one.
 */
export const SIMULATED_WORDS: readonly string[] = [
  'time', 'people', 'year', 'way', 'day', 'man', 'thing', 'woman', 'life', 'child', 'world', 'school', 'state',
  'family', 'student', 'group', 'country', 'problem', 'hand', 'part', 'place', 'case', 'week', 'company',
  'system', 'program', 'question', 'work', 'government', 'number', 'night', 'point', 'home', 'water', 'room',
  'mother', 'area', 'money', 'story', 'fact', 'month', 'lot', 'right', 'study', 'book', 'eye', 'job', 'word',
  'business', 'issue', 'side', 'kind', 'head', 'house', 'service', 'friend', 'father', 'power', 'hour', 'game',
  'line', 'end', 'member', 'law', 'car', 'city', 'community', 'name', 'president', 'team', 'minute', 'idea',
  'body', 'information', 'back', 'parent', 'face', 'others', 'level', 'office', 'door', 'health', 'person',
  'art', 'war', 'history', 'party', 'result', 'change', 'morning', 'reason', 'research', 'girl', 'guy',
  'moment', 'air', 'teacher', 'force', 'education', 'market', 'price', 'model', 'token', 'clear', 'node',
  'data', 'value', 'trade', 'order', 'light', 'open', 'plan', 'rate', 'food', 'land', 'road', 'tree', 'river',
  'town', 'field', 'sea', 'table', 'paper', 'music', 'film', 'rule', 'report', 'board',
]; // prettier-ignore

/**
 * The simulated answer: `maxTokens` words, a deterministic function of (messages, seed) — the
 * same request and seed give the same text, another seed other text — as a real model at
 * `temperature: 0` with a seed would. Words come from SHA-256 in counter mode over the pair.
 */
export function simulatedOutput(messages: InferenceRequest['messages'], seed: number | undefined, words: number): string {
  // One-shot hashes (no Hash object per call): the same bytes as createHash().update().digest(),
  // a sixth of a bench agent's CPU when it was two Hash objects a job.
  const key = hash('sha256', JSON.stringify([messages, seed ?? null]), 'buffer');
  const out: string[] = [];
  for (let block = 0; out.length < words; block++) {
    const bytes = hash('sha256', Buffer.concat([key, Buffer.from(String(block))]), 'buffer');
    for (let i = 0; i < bytes.length && out.length < words; i++) out.push(` ${SIMULATED_WORDS[bytes[i] & 127]}`);
  }
  return out.join('');
}

/**
 * `--simulate`: a stand-in for an inference server, for demos and tests, at a set rate (`rate` 0
 * answers at once). Its usage is its own guess (prompt tokens are characters / 4), so it is
 * flagged as estimated; the job's time limit applies as it would to a real server.
 */
export class SimulatedInference implements InferenceEngine {
  readonly description: string;

  constructor(private readonly tokensPerSecond: number) {
    this.description = `SIMULATED inference at ${tokensPerSecond > 0 ? `${tokensPerSecond} tokens/s` : 'instant speed'} (no real model)`;
  }

  async complete(req: InferenceRequest, outer?: AbortSignal): Promise<InferenceResult> {
    const started = performance.now();
    const completionTokens = req.maxTokens;
    const output = simulatedOutput(req.messages, req.seed, completionTokens);
    const promptTokens = Math.max(1, Math.ceil(req.messages.reduce((n, m) => n + m.content.length, 0) / 4));
    let ttftMs = 0;
    if (this.tokensPerSecond > 0) {
      const timeoutMs = req.timeoutMs ?? DEFAULT_INFERENCE_TIMEOUT_MS;
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = outer ? AbortSignal.any([outer, timeout]) : timeout;
      const perToken = 1000 / this.tokensPerSecond;
      try {
        await sleep(perToken, signal);
        ttftMs = performance.now() - started;
        await sleep(perToken * (completionTokens - 1), signal);
      } catch (err) {
        if (timeout.aborted) throw new InferenceError('TIMEOUT', `no complete answer within ${timeoutMs} ms (simulated)`);
        throw err;
      }
    }
    return {
      output,
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens },
      ttftMs,
      durationMs: performance.now() - started,
      usageEstimated: true,
    };
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
