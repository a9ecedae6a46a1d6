export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface InferenceRequest {
  modelClass: string;
  messages: ChatMessage[];
  maxTokens: number;
  /** Sampling seed the job carries (for verification by re-execution); sent with `temperature: 0`. */
  seed?: number;
  /** This job's time limit for a complete answer; the engine's default when absent. */
  timeoutMs?: number;
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
  /**
   * True when the figures are not the inference server's own count: it sent no usage (completion
   * tokens are stream chunks, prompt tokens 0), or the run was simulated.
   */
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

  /**
   * The request's fault: the server refused this prompt (a 4xx other than 408 timeout and 429
   * overload, which say nothing about the prompt). Everything else is the operator's.
   */
  get fault(): 'REQUEST' | 'OPERATOR' {
    const s = this.status;
    return this.kind === 'HTTP' && s !== undefined && s >= 400 && s < 500 && s !== 408 && s !== 429 ? 'REQUEST' : 'OPERATOR';
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

/** An inference call's time limit when neither the job nor the command line sets one. */
export const DEFAULT_INFERENCE_TIMEOUT_MS = 120_000;
