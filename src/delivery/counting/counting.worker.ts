import { countCompletionTokens } from './chat-template.js';
import { loadTokenizer, type TokenizerName } from './tokenizers.js';

/** One tick's counting for one tokenizer: the words (src/delivery/counting/words.ts) not yet remembered. */
export interface CountTask {
  tokenizer: TokenizerName;
  texts: string[];
}

/** The worker thread's task (piscina): each text's token count, on the thread's own tokenizer. */
export default async function count(task: CountTask): Promise<number[]> {
  const encoder = await loadTokenizer(task.tokenizer);
  return task.texts.map((t) => countCompletionTokens(encoder, t));
}

/** Each text's token ids (no special tokens): what verification's judge compares. */
export async function tokens(task: CountTask): Promise<number[][]> {
  const encoder = await loadTokenizer(task.tokenizer);
  return task.texts.map((t) => encoder.encode(t));
}
