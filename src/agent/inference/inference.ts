export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface InferenceRequest {
  modelClass: string;
  messages: ChatMessage[];
  maxTokens: number;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

export interface InferenceResult {
  output: string;
  usage: Usage;
  /** Time to first token, ms (equals durationMs when the server did not stream). */
  ttftMs: number;
  durationMs: number;
  /** True when the server sent no usage and completion tokens were counted from stream chunks. */
  usageEstimated?: boolean;
}

export type InferenceFailureKind = 'HTTP' | 'TIMEOUT' | 'CONNECTION' | 'BAD_RESPONSE';

/** A typed failure of the inference server, so the agent can report it and decide on retry. */
export class InferenceError extends Error {
  constructor(
    readonly kind: InferenceFailureKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'InferenceError';
  }

  /** Server overload and transient transport trouble may succeed elsewhere; 4xx will not. */
  get retryable(): boolean {
    return this.kind !== 'HTTP' || this.status === undefined || this.status >= 500 || this.status === 429;
  }
}

export interface InferenceEngine {
  readonly description: string;
  complete(request: InferenceRequest, signal?: AbortSignal): Promise<InferenceResult>;
}
