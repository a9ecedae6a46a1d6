import {
  DEFAULT_INFERENCE_TIMEOUT_MS,
  InferenceError,
  type InferenceEngine,
  type InferenceRequest,
  type InferenceResult,
  type Usage,
} from './inference.js';

interface ChatChunk {
  choices?: { delta?: { content?: string | null }; message?: { content?: string | null } }[];
  usage?: Usage | null;
}

export interface OpenAiClientOptions {
  /** Where the server's OpenAI API lives; see chatCompletionsUrl. */
  baseUrl: string;
  /** Model name the server knows, per model class; defaults to the class name itself. */
  models?: Record<string, string>;
  apiKey?: string;
  /** Used when a request names no timeout of its own. */
  timeoutMs?: number;
  stream?: boolean;
}

/**
 * Client of an OpenAI-compatible `/v1/chat/completions` endpoint (vLLM, SGLang, llama.cpp
 * server, Ollama). Streams by default to measure time to first token.
 */
export class OpenAiChatClient implements InferenceEngine {
  readonly description: string;
  private readonly url: URL;

  constructor(private readonly opts: OpenAiClientOptions) {
    this.url = chatCompletionsUrl(opts.baseUrl);
    this.description = `OpenAI-compatible server at ${this.url.href}`;
  }

  async complete(req: InferenceRequest, outer?: AbortSignal): Promise<InferenceResult> {
    const stream = this.opts.stream ?? true;
    const started = performance.now();
    const timeoutMs = req.timeoutMs ?? this.opts.timeoutMs ?? DEFAULT_INFERENCE_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = outer ? AbortSignal.any([outer, timeout]) : timeout;
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.opts.apiKey ? { authorization: `Bearer ${this.opts.apiKey}` } : {}) },
        body: JSON.stringify({
          model: this.opts.models?.[req.modelClass] ?? req.modelClass,
          messages: req.messages,
          max_tokens: req.maxTokens,
          // Greedy decoding always: the buyer cannot choose sampling, and a job re-run elsewhere
          // for verification (SPEC §6.1) is only comparable if neither run sampled at random.
          temperature: 0,
          ...(req.seed !== undefined ? { seed: req.seed } : {}),
          stream,
          ...(stream ? { stream_options: { include_usage: true } } : {}),
        }),
        signal,
      });
    } catch (err) {
      throw this.transportError(err, timeout, timeoutMs);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      throw new InferenceError('HTTP', `inference server answered ${res.status}: ${text.slice(0, 200)}`, res.status);
    }
    try {
      return stream ? await this.readStream(res, started) : await this.readJson(res, started);
    } catch (err) {
      if (err instanceof InferenceError) throw err;
      throw this.transportError(err, timeout, timeoutMs);
    }
  }

  private async readJson(res: Response, started: number): Promise<InferenceResult> {
    const body = (await res.json().catch(() => null)) as ChatChunk | null;
    const output = body?.choices?.[0]?.message?.content;
    if (typeof output !== 'string' || !validUsage(body?.usage))
      throw new InferenceError('BAD_RESPONSE', 'response lacks choices[0].message.content or usage');
    const durationMs = performance.now() - started;
    return { output, usage: body!.usage!, ttftMs: durationMs, durationMs };
  }

  private async readStream(res: Response, started: number): Promise<InferenceResult> {
    if (!res.body) throw new InferenceError('BAD_RESPONSE', 'streaming response without a body');
    const decoder = new TextDecoder();
    let buffer = '';
    let output = '';
    let chunks = 0;
    let ttftMs: number | undefined;
    let usage: Usage | undefined;
    let done = false;
    for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(part, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') {
          done = true;
          continue;
        }
        let chunk: ChatChunk;
        try {
          chunk = JSON.parse(data) as ChatChunk;
        } catch {
          throw new InferenceError('BAD_RESPONSE', `malformed stream chunk: ${data.slice(0, 80)}`);
        }
        const delta = chunk.choices?.[0]?.delta?.content;
        if (delta) {
          ttftMs ??= performance.now() - started;
          output += delta;
          chunks++;
        }
        if (validUsage(chunk.usage)) usage = chunk.usage;
      }
    }
    if (!done) throw new InferenceError('BAD_RESPONSE', 'stream ended without [DONE]');
    const durationMs = performance.now() - started;
    return {
      output,
      usage: usage ?? { prompt_tokens: 0, completion_tokens: chunks },
      ttftMs: ttftMs ?? durationMs,
      durationMs,
      ...(usage ? {} : { usageEstimated: true }),
    };
  }

  private transportError(err: unknown, timeout: AbortSignal, timeoutMs: number): InferenceError {
    if (timeout.aborted) return new InferenceError('TIMEOUT', `no complete answer within ${timeoutMs} ms`);
    return new InferenceError('CONNECTION', `cannot reach inference server: ${(err as Error).message}`);
  }
}

/**
 * The chat completions endpoint under an OpenAI API base, keeping the base's path (a gateway's
 * `http://h/openai/` → `http://h/openai/v1/chat/completions`). A base that already ends in
 * `/v1` (how vLLM documents its URL: `http://h:8000/v1`) gets `/chat/completions` only.
 */
export function chatCompletionsUrl(base: string): URL {
  const url = new URL(base);
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = `${path}${path.endsWith('/v1') ? '' : '/v1'}/chat/completions`;
  url.hash = '';
  return url;
}

function validUsage(u: Usage | null | undefined): u is Usage {
  return (
    !!u && Number.isInteger(u.prompt_tokens) && Number.isInteger(u.completion_tokens) && u.prompt_tokens >= 0 && u.completion_tokens >= 0
  );
}
