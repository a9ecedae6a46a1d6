import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { countCompletionTokens, countPromptTokens } from './chat-template.js';
import { loadTokenizer, tokenizerFor, type Encoder, type TokenizerName } from './tokenizers.js';

/** What the counter needs of a product: its model class and the tokenizer it may pin. */
export interface CountingTerms {
  modelClass: string;
  tokenizer: string | null;
}

/**
 * The clearing house's own token count (SPEC §6.1). Tokenizers load once per process; the API
 * loads the ones of its configured model classes at start-up, so the first completion does not
 * pay 0.2–0.8 s of loading. Counting runs on the event loop: measured at ~0.4 µs a token of
 * output, it stays below the rest of a completion's cost (see the README's Metering section).
 */
@Injectable()
export class TokenCounter implements OnApplicationBootstrap {
  private readonly logger = new Logger(TokenCounter.name);
  private readonly ready = new Map<TokenizerName, Encoder>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async onApplicationBootstrap(): Promise<void> {
    // Tests load a tokenizer when their first job needs it rather than every app paying ~1 s.
    if (this.config.role === 'worker' || this.config.env === 'test') return;
    const started = performance.now();
    const names = [...new Set(this.config.modelClasses.map((c) => tokenizerFor(c)))];
    await Promise.all(names.map((n) => this.encoder(n)));
    this.logger.log({ tokenizers: names, ms: Math.round(performance.now() - started) }, 'tokenizers loaded');
  }

  tokenizerOf(terms: CountingTerms): TokenizerName {
    return tokenizerFor(terms.modelClass, terms.tokenizer);
  }

  async encoder(name: TokenizerName): Promise<Encoder> {
    let e = this.ready.get(name);
    if (!e) {
      e = await loadTokenizer(name);
      this.ready.set(name, e);
    }
    return e;
  }

  async prompt(terms: CountingTerms, messages: readonly { role: string; content: string }[]): Promise<number> {
    return countPromptTokens(await this.encoder(this.tokenizerOf(terms)), messages);
  }

  /** Synchronous once the product's tokenizer is loaded (it is, after start-up or a first prompt count). */
  completionNow(terms: CountingTerms, output: string): number | undefined {
    const e = this.ready.get(this.tokenizerOf(terms));
    return e ? countCompletionTokens(e, output) : undefined;
  }

  async completion(terms: CountingTerms, output: string): Promise<number> {
    return countCompletionTokens(await this.encoder(this.tokenizerOf(terms)), output);
  }
}
