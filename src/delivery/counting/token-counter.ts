import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import type { ChatMessageLike } from './chat-template.js';
import { CountingPool } from './counting-pool.js';
import { tokenizerFor, type TokenizerName } from './tokenizers.js';

/** What the counter needs of a product: its model class and the tokenizer it may pin. */
export interface CountingTerms {
  modelClass: string;
  tokenizer: string | null;
}

/**
 * The clearing house's own token count (SPEC §6.1). Prompts and outputs are counted on a worker
 * thread (CountingPool; COUNTING_THREADS, 0 = on the event loop), a batch's counts in one task;
 * the API loads its model classes' tokenizers there at start-up, so the first completion does not
 * pay 0.2–0.8 s of loading. Verification's judge has its token ids encoded there too.
 */
@Injectable()
export class TokenCounter implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(TokenCounter.name);
  readonly pool: CountingPool;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.pool = new CountingPool(config.delivery.countingThreads);
  }

  async onApplicationBootstrap(): Promise<void> {
    // Tests load a tokenizer when their first job needs it rather than every app paying ~1 s.
    if (this.config.role === 'worker' || this.config.env === 'test') return;
    const started = performance.now();
    const names = [...new Set(this.config.modelClasses.map((c) => tokenizerFor(c)))];
    await Promise.all(names.map((n) => this.pool.preload(n)));
    this.logger.log(
      { tokenizers: names, ms: Math.round(performance.now() - started), thread: this.pool.threaded },
      this.pool.threaded ? 'tokenizers loaded in the counting thread' : 'tokenizers loaded',
    );
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.close();
  }

  tokenizerOf(terms: CountingTerms): TokenizerName {
    return tokenizerFor(terms.modelClass, terms.tokenizer);
  }

  /** Each text's token ids with the product's tokenizer, on the counting thread (verification's judge). */
  tokens(terms: CountingTerms, texts: string[]): Promise<number[][]> {
    return this.pool.tokens(this.tokenizerOf(terms), texts);
  }

  prompt(terms: CountingTerms, messages: readonly ChatMessageLike[]): Promise<number> {
    return this.pool.prompt(this.tokenizerOf(terms), messages);
  }

  completion(terms: CountingTerms, output: string): Promise<number> {
    return this.pool.completion(this.tokenizerOf(terms), output);
  }
}
