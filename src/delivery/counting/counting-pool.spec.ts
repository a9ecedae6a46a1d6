import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { countCompletionTokens, countPromptTokens } from './chat-template.js';
import { CountingPool } from './counting-pool.js';
import { loadTokenizer, type TokenizerName } from './tokenizers.js';
import { words } from './words.js';

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
      // 361 counts asked in one turn: one task per tokenizer, not one per count or per word.
      expect(pool.tasks - before).toBe(2);
    } finally {
      await pool.close();
    }
  });

  it.each([
    ['a worker thread', 1],
    ['the event loop (COUNTING_THREADS=0)', 0],
  ])('on %s: token ids for the judge equal the tokenizer’s own, in one task', async (_, threads) => {
    const pool = new CountingPool(threads, WORKER);
    try {
      const llama = await loadTokenizer('llama3');
      const before = pool.tasks;
      const outputs = texts.slice(0, 5).map((t) => t.output);
      expect(await pool.tokens('llama3', [...outputs, ''])).toEqual([...outputs.map((o) => llama.encode(o)), []]);
      expect(pool.tasks - before).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('words counted before are answered from memory: the same counts again send no task at all', async () => {
    const pool = new CountingPool(1, WORKER);
    try {
      const llama = await loadTokenizer('llama3');
      const first = await Promise.all(texts.map((t) => pool.completion('llama3', t.output)));
      const misses = pool.stats('llama3').misses;
      // Each distinct word went to the thread once, however many outputs held it.
      const distinct = new Set(texts.flatMap((t) => words(t.output)).filter((w) => w.length > 0));
      expect(pool.encoded).toBe(distinct.size);
      expect(misses).toBeGreaterThan(distinct.size);
      const tasks = pool.tasks;
      const again = await Promise.all(texts.map((t) => pool.completion('llama3', t.output)));
      expect(again).toEqual(first);
      expect(again).toEqual(texts.map((t) => countCompletionTokens(llama, t.output)));
      expect(pool.tasks).toBe(tasks);
      expect(pool.encoded).toBe(distinct.size);
      expect(pool.stats('llama3').misses).toBe(misses);
      expect(pool.stats('llama3').hits).toBeGreaterThan(texts.length);
    } finally {
      await pool.close();
    }
  });

  it('a task that fails rejects every count it carried, other tokenizers’ counts go on, and so does the pool', async () => {
    const pool = new CountingPool(1, WORKER);
    try {
      const unknown = 'gpt-unknown' as TokenizerName;
      const results = await Promise.allSettled([
        pool.completion(unknown, 'fine words'),
        pool.prompt(unknown, [{ role: 'user', content: 'hello there' }]),
        pool.completion('llama3', ' market'),
      ]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
      // Not a text: refused before any thread is asked.
      await expect(pool.prompt('llama3', [{ role: 'user', content: null as unknown as string }])).rejects.toThrow(TypeError);
      expect(await pool.completion('llama3', ' market price')).toBe(2);
    } finally {
      await pool.close();
    }
  });
});
