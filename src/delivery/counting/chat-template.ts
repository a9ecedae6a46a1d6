import type { Encoder } from './tokenizers.js';

/**
 * The one rule for the chat template's overhead (SPEC §6.1): inference servers wrap each message
 * in the model's template (Llama 3: `<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>`;
 * Qwen: `<|im_start|>role\n…<|im_end|>\n`), and add a primer for the reply. Templates differ by a
 * token or two per message between models and versions, so the clearing house counts the same
 * fixed framing for every model: the role's tokens, the content's tokens and 3 framing tokens per
 * message, plus 3 for the reply primer. Nodes whose server counts otherwise differ by a few
 * tokens, which the metering tolerance absorbs.
 */
export const FRAMING_TOKENS_PER_MESSAGE = 3;
export const REPLY_PRIMER_TOKENS = 3;

/** A chat message as counting reads it. */
export interface ChatMessageLike {
  role: string;
  content: string;
}

/** The rule over counts already made: each message's role and content counts, in order. */
export function promptTotal(counted: readonly { role: number; content: number }[]): number {
  let n = REPLY_PRIMER_TOKENS;
  for (const m of counted) n += m.role + m.content + FRAMING_TOKENS_PER_MESSAGE;
  return n;
}

export function countPromptTokens(encoder: Encoder, messages: readonly ChatMessageLike[]): number {
  return promptTotal(messages.map((m) => ({ role: encoder.encode(m.role).length, content: encoder.encode(m.content).length })));
}

export function countCompletionTokens(encoder: Encoder, output: string): number {
  return output.length === 0 ? 0 : encoder.encode(output).length;
}
