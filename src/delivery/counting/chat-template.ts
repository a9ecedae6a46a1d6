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

export function countPromptTokens(encoder: Encoder, messages: readonly ChatMessageLike[]): number {
  let n = REPLY_PRIMER_TOKENS;
  for (const m of messages) n += roleTokens(encoder, m.role) + encoder.encode(m.content).length + FRAMING_TOKENS_PER_MESSAGE;
  return n;
}

/**
 * A role's token count, remembered per encoder: roles are a handful of short strings (system,
 * user, assistant, tool), and encoding one costs a call's fixed overhead (~10 µs) every message.
 * Exact — the count of a string never changes; roles longer than a role name are not remembered.
 */
const roleCounts = new WeakMap<Encoder, Map<string, number>>();
const MAX_REMEMBERED_ROLE = 32;
const MAX_REMEMBERED_ROLES = 64;

function roleTokens(encoder: Encoder, role: string): number {
  let counts = roleCounts.get(encoder);
  if (!counts) roleCounts.set(encoder, (counts = new Map()));
  let n = counts.get(role);
  if (n === undefined) {
    n = encoder.encode(role).length;
    if (role.length <= MAX_REMEMBERED_ROLE && counts.size < MAX_REMEMBERED_ROLES) counts.set(role, n);
  }
  return n;
}

export function countCompletionTokens(encoder: Encoder, output: string): number {
  return output.length === 0 ? 0 : encoder.encode(output).length;
}
