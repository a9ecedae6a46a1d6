import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { ChatMessageLike } from './chat-template.js';
import count, { type CountResult, type CountTask } from './counting.worker.js';
import type { TokenizerName } from './tokenizers.js';

interface Waiting<I> {
  input: I;
  resolve: (n: number) => void;
  reject: (err: unknown) => void;
}

interface Tick {
  prompts: Waiting<readonly ChatMessageLike[]>[];
  outputs: Waiting<string>[];
}

/**
 * Token counting off the API's event loop (SPEC §6.1): bench:delivery measured the pinned
 * tokenizers at ~75 µs a job (prompt and output, ~30 tokens) — a fifth of the API process's CPU a
 * job — all of it on the one thread every request shares. Counts asked for in the same turn of
 * the event loop (a submission batch's prompts, a completion batch's outputs) go to a worker
 * thread as one task per tokenizer (piscina), so the thread hop is paid once a batch, not once a
 * job. The rule is the same code on either side (counting.worker.ts).
 *
 * Without a thread (`threads` 0, or run from the TypeScript sources, as the tests' in-process
 * apps are, where no compiled worker exists) the same task runs on the event loop.
 */
export class CountingPool {
  private readonly pool: Piscina<CountTask, CountResult> | undefined;
  private readonly ticks = new Map<TokenizerName, Tick>();
  private flushing: NodeJS.Immediate | undefined;
  /** Tasks sent (one per tokenizer per turn of the event loop): exposed for tests and metrics. */
  tasks = 0;

  constructor(threads: number, workerFile: string | undefined = compiledWorker()) {
    this.pool =
      threads > 0 && workerFile
        ? new Piscina<CountTask, CountResult>({ filename: workerFile, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 })
        : undefined;
  }

  get threaded(): boolean {
    return this.pool !== undefined;
  }

  prompt(tokenizer: TokenizerName, messages: readonly ChatMessageLike[]): Promise<number> {
    return new Promise((resolve, reject) => {
      this.tick(tokenizer).prompts.push({ input: messages, resolve, reject });
    });
  }

  completion(tokenizer: TokenizerName, output: string): Promise<number> {
    // Nothing to count: no reason to wait for a thread.
    if (output.length === 0) return Promise.resolve(0);
    return new Promise((resolve, reject) => {
      this.tick(tokenizer).outputs.push({ input: output, resolve, reject });
    });
  }

  /** Loads a tokenizer in the worker thread ahead of the first job. */
  async preload(tokenizer: TokenizerName): Promise<void> {
    await this.run({ tokenizer, prompts: [], outputs: [] });
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
  }

  private tick(tokenizer: TokenizerName): Tick {
    let tick = this.ticks.get(tokenizer);
    if (!tick) this.ticks.set(tokenizer, (tick = { prompts: [], outputs: [] }));
    // After this turn's callbacks and microtasks: a batch's items have all asked by then.
    this.flushing ??= setImmediate(() => this.flush());
    return tick;
  }

  private flush(): void {
    this.flushing = undefined;
    const ticks = [...this.ticks];
    this.ticks.clear();
    for (const [tokenizer, { prompts, outputs }] of ticks) {
      this.run({ tokenizer, prompts: prompts.map((p) => p.input as ChatMessageLike[]), outputs: outputs.map((o) => o.input) }).then(
        (result) => {
          prompts.forEach((p, i) => p.resolve(result.prompts[i]));
          outputs.forEach((o, i) => o.resolve(result.outputs[i]));
        },
        (err: unknown) => {
          for (const w of [...prompts, ...outputs]) w.reject(err);
        },
      );
    }
  }

  private run(task: CountTask): Promise<CountResult> {
    this.tasks++;
    return this.pool ? this.pool.run(task) : count(task);
  }
}

/** The compiled worker beside this file (dist/), or none when running from the sources. */
function compiledWorker(): string | undefined {
  const file = fileURLToPath(new URL('./counting.worker.js', import.meta.url));
  return existsSync(file) ? file : undefined;
}
