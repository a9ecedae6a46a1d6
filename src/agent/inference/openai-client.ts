import { InferenceError, type InferenceEngine, type InferenceRequest, type InferenceResult, type Usage } from './inference.js';

interface ChatChunk {
  choices?: { delta?: { content?: string | null }; message?: { content?: string | null } }[];
  usage?: Usage | null;
}

export interface OpenAiClientOptions {
  baseUrl: string;
  /** Model name the server knows, per model class; defaults to the class name itself. */
  models?: Record<string, string>;
  apiKey?: string;
  timeoutMs?: number;
  stream?: boolean;
}

/**
 * Client of an OpenAI-compatible `/v1/chat/completions` endpoint (vLLM, SGLang, llama.cpp
 * server, Ollama). Streams by default to measure time to first token.
 */
export class OpenAiChatClient implements InferenceEngine {
  readonly description: string;

  constructor(private readonly opts: OpenAiClientOptions) {
    this.description = `OpenAI-compatible server at ${opts.baseUrl}`;
  }

  async complete(req: InferenceRequest, outer?: AbortSignal): Promise<InferenceResult> {
    const stream = this.opts.stream ?? true;
    const started = performance.now();
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 120_000);
    const signal = outer ? AbortSignal.any([outer, timeout]) : timeout;
    let res: Response;
    try {
      res = await fetch(new URL('/v1/chat/completions', this.opts.baseUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.opts.apiKey ? { authorization: `Bearer ${this.opts.apiKey}` } : {}) },
        body: JSON.stringify({
          model: this.opts.models?.[req.modelClass] ?? req.modelClass,
          messages: req.messages,
          max_tokens: req.maxTokens,
          stream,
          ...(stream ? { stream_options: { include_usage: true } } : {}),
        }),
        signal,
      });
    } catch (err) {
      throw this.transportError(err, timeout);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      throw new InferenceError('HTTP', `inference server answered ${res.status}: ${text.slice(0, 200)}`, res.status);
    }
    try {
      return stream ? await this.readStream(res, started) : await this.readJson(res, started);
    } catch (err) {
      if (err instanceof InferenceError) throw err;
      throw this.transportError(err, timeout);
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

  private transportError(err: unknown, timeout: AbortSignal): InferenceError {
    if (timeout.aborted) return new InferenceError('TIMEOUT', `no complete answer within ${this.opts.timeoutMs ?? 120_000} ms`);
    return new InferenceError('CONNECTION', `cannot reach inference server: ${(err as Error).message}`);
  }
}

function validUsage(u: Usage | null | undefined): u is Usage {
  return (
    !!u && Number.isInteger(u.prompt_tokens) && Number.isInteger(u.completion_tokens) && u.prompt_tokens >= 0 && u.completion_tokens >= 0
  );
}
