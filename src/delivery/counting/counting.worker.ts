import { countCompletionTokens, countPromptTokens, type ChatMessageLike } from './chat-template.js';
import { loadTokenizer, type TokenizerName } from './tokenizers.js';

/** One tick's counting for one tokenizer: the prompts and outputs that arrived together. */
export interface CountTask {
  tokenizer: TokenizerName;
  prompts: ChatMessageLike[][];
  outputs: string[];
}

export interface CountResult {
  prompts: number[];
  outputs: number[];
}

/** The worker thread's task (piscina): the same rule as on the event loop, on the thread's own tokenizer. */
export default async function count(task: CountTask): Promise<CountResult> {
  const encoder = await loadTokenizer(task.tokenizer);
  return {
    prompts: task.prompts.map((m) => countPromptTokens(encoder, m)),
    outputs: task.outputs.map((o) => countCompletionTokens(encoder, o)),
  };
}
