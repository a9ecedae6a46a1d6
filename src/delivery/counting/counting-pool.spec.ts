import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { countCompletionTokens, countPromptTokens } from './chat-template.js';
import { CountingPool } from './counting-pool.js';
import { loadTokenizer } from './tokenizers.js';

// The compiled worker (npm test builds dist/ first): the thread runs what production runs.
const WORKER = resolve('dist/delivery/counting/counting.worker.js');

const texts = Array.from({ length: 120 }, (_, i) => ({
  messages: [
    { role: 'system', content: `你是结算所的助手 ${i}` },
    { role: 'user', content: `How many tokens in order ${i}? 交割 ${'token '.repeat(i % 7)}` },
  ],
  output: ` market price ${i} 清算 ${'delivered '.repeat(i % 5)}`,
}));

describe('CountingPool: counting off the event loop, a turn of the event loop per task', () => {
  it.each([
    ['a worker thread', 1],
    ['the event loop (COUNTING_THREADS=0)', 0],
  ])('on %s: every count equals the rule run inline; a turn’s counts are one task per tokenizer', async (_, threads) => {
    expect(existsSync(WORKER), 'npm run build first').toBe(true);
    const pool = new CountingPool(threads, WORKER);
    try {
      expect(pool.threaded).toBe(threads > 0);
      const llama = await loadTokenizer('llama3');
      const qwen = await loadTokenizer('qwen3');
      const before = pool.tasks;
      const [prompts, outputs, qwenOutputs, empty] = await Promise.all([
        Promise.all(texts.map((t) => pool.prompt('llama3', t.messages))),
        Promise.all(texts.map((t) => pool.completion('llama3', t.output))),
        Promise.all(texts.map((t) => pool.completion('qwen3', t.output))),
        pool.completion('llama3', ''),
      ]);
      expect(prompts).toEqual(texts.map((t) => countPromptTokens(llama, t.messages)));
      expect(outputs).toEqual(texts.map((t) => countCompletionTokens(llama, t.output)));
      expect(qwenOutputs).toEqual(texts.map((t) => countCompletionTokens(qwen, t.output)));
      // The two tokenizers differ on these texts: the thread used the one asked for.
      expect(qwenOutputs).not.toEqual(outputs);
      expect(empty).toBe(0);
      // 361 counts asked in one turn: one task per tokenizer, not one per count.
      expect(pool.tasks - before).toBe(2);
    } finally {
      await pool.close();
    }
  });

  it('a task that fails rejects every count it carried, and the pool goes on', async () => {
    const pool = new CountingPool(1, WORKER);
    try {
      const bad = { role: 'user', content: null as unknown as string };
      const results = await Promise.allSettled([pool.prompt('llama3', [bad]), pool.completion('llama3', 'fine')]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect(await pool.completion('llama3', ' market')).toBe(1);
    } finally {
      await pool.close();
    }
  });
});
