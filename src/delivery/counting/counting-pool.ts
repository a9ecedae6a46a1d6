import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { promptTotal, type ChatMessageLike } from './chat-template.js';
import count, { tokens, type CountTask } from './counting.worker.js';
import type { TokenizerName } from './tokenizers.js';
import { WordCounts, words } from './words.js';

interface Waiting {
  resolve: (n: number) => void;
  reject: (err: unknown) => void;
}

/**
 * The clearing house's token counts, kept off the API's event loop (SPEC §6.1). A text is cut
 * into words whose counts add up to the text's (words.ts); a word counted before is answered from
 * memory (WordCounts), and only words not seen yet are encoded — on a worker thread (piscina),
 * all those asked for in the same turn of the event loop (a submission batch's prompts, a
 * completion batch's outputs) as one task per tokenizer, so the thread hop is paid once a batch.
 *
 * bench:delivery measured the pinned tokenizers at ~50 µs an output and ~25 µs a prompt of
 * bench size, per call: most of it the library's fixed cost per text, not the words. Remembered
 * words cost a map lookup each.
 *
 * Without a thread (`threads` 0, or run from the TypeScript sources, as the tests' in-process
 * apps are, where no compiled worker exists) the same task runs on the event loop.
 */
export class CountingPool {
  private readonly pool: Piscina<CountTask, number[] | number[][]> | undefined;
  private readonly memos = new Map<TokenizerName, WordCounts>();
  /** This turn's words to encode, per tokenizer: each word once, however many texts hold it. */
  private readonly asked = new Map<TokenizerName, Map<string, Waiting[]>>();
  private flushing: NodeJS.Immediate | undefined;
  /** Tasks sent (one per tokenizer per turn of the event loop): exposed for tests and metrics. */
  tasks = 0;
  /** Words sent to be encoded (each distinct word of a turn once): exposed for tests and the bench. */
  encoded = 0;

  constructor(threads: number, workerFile: string | undefined = compiledWorker()) {
    this.pool =
      threads > 0 && workerFile
        ? new Piscina<CountTask, number[] | number[][]>({
            filename: workerFile,
            minThreads: threads,
            maxThreads: threads,
            idleTimeout: 60_000,
          })
        : undefined;
  }

  get threaded(): boolean {
    return this.pool !== undefined;
  }

  async prompt(tokenizer: TokenizerName, messages: readonly ChatMessageLike[]): Promise<number> {
    // Every text asked before any is awaited: they go to the thread together.
    const counts = await Promise.all(messages.flatMap((m) => [this.text(tokenizer, m.role), this.text(tokenizer, m.content)]));
    return promptTotal(messages.map((_, i) => ({ role: counts[2 * i], content: counts[2 * i + 1] })));
  }

  completion(tokenizer: TokenizerName, output: string): Promise<number> {
    return this.text(tokenizer, output);
  }

  /**
   * Each text's token ids, on the thread: verification's judge compares them. Encoded there, as
   * counts are, so the event loop never loads a tokenizer (0.2–0.8 s of blocking and ~60 MB more
   * of heap for its collector to walk).
   */
  async tokens(tokenizer: TokenizerName, texts: string[]): Promise<number[][]> {
    this.tasks++;
    const task = { tokenizer, texts };
    return this.pool ? ((await this.pool.run(task, { name: 'tokens' })) as number[][]) : tokens(task);
  }

  /** Words answered from memory and words encoded, per tokenizer (bench, metrics). */
  stats(tokenizer: TokenizerName): { hits: number; misses: number; remembered: number } {
    const memo = this.memo(tokenizer);
    return { hits: memo.hits, misses: memo.misses, remembered: memo.size };
  }

  /** Loads a tokenizer in the worker thread ahead of the first job. */
  async preload(tokenizer: TokenizerName): Promise<void> {
    await this.run({ tokenizer, texts: [] });
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
  }

  /** A text's count: the sum of its words' counts, remembered or asked of the thread. */
  private async text(tokenizer: TokenizerName, text: string): Promise<number> {
    const memo = this.memo(tokenizer);
    let n = 0;
    let pending: Promise<number>[] | undefined;
    for (const word of words(text)) {
      if (word.length === 0) continue;
      const known = memo.get(word);
      if (known === undefined) (pending ??= []).push(this.ask(tokenizer, word));
      else n += known;
    }
    if (pending) for (const m of await Promise.all(pending)) n += m;
    return n;
  }

  private memo(tokenizer: TokenizerName): WordCounts {
    let memo = this.memos.get(tokenizer);
    if (!memo) this.memos.set(tokenizer, (memo = new WordCounts()));
    return memo;
  }

  private ask(tokenizer: TokenizerName, word: string): Promise<number> {
    return new Promise((resolve, reject) => {
      let words = this.asked.get(tokenizer);
      if (!words) this.asked.set(tokenizer, (words = new Map()));
      const waiting = words.get(word);
      if (waiting) waiting.push({ resolve, reject });
      else words.set(word, [{ resolve, reject }]);
      // After this turn's callbacks and microtasks: a batch's texts have all asked by then.
      this.flushing ??= setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    this.flushing = undefined;
    const asked = [...this.asked];
    this.asked.clear();
    for (const [tokenizer, waiting] of asked) {
      const texts = [...waiting.keys()];
      this.run({ tokenizer, texts }).then(
        (counts) => {
          const memo = this.memo(tokenizer);
          texts.forEach((t, i) => {
            memo.set(t, counts[i]);
            for (const w of waiting.get(t)!) w.resolve(counts[i]);
          });
        },
        (err: unknown) => {
          for (const list of waiting.values()) for (const w of list) w.reject(err);
        },
      );
    }
  }

  private run(task: CountTask): Promise<number[]> {
    this.tasks++;
    this.encoded += task.texts.length;
    return this.pool ? (this.pool.run(task) as Promise<number[]>) : count(task);
  }
}

/** The compiled worker beside this file (dist/), or none when running from the sources. */
function compiledWorker(): string | undefined {
  const file = fileURLToPath(new URL('./counting.worker.js', import.meta.url));
  return existsSync(file) ? file : undefined;
}
