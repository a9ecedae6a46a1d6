import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceError } from './inference.js';
import { OpenAiChatClient } from './openai-client.js';
import { SimulatedInference } from './simulated.js';

// A local server answering like vLLM / llama.cpp's OpenAI-compatible endpoint, with behaviour
// chosen per request by the model name.
let server: http.Server;
let base: string;
const seen: Record<string, unknown>[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const body = JSON.parse(raw) as { model: string; stream?: boolean; max_tokens: number };
      seen.push(body);
      if (req.url !== '/v1/chat/completions') return void res.writeHead(404).end();
      switch (body.model) {
        case 'boom':
          return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"CUDA out of memory"}');
        case 'bad-request':
          return void res.writeHead(400).end('{"error":"max_tokens too large"}');
        case 'slow':
          return void setTimeout(() => res.writeHead(200).end('{}'), 2_000);
        case 'garbage':
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          return void res.end('data: {not json\n\n');
        case 'no-usage':
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('data: {"choices":[{"delta":{"content":"a"}}]}\n\n');
          res.write('data: {"choices":[{"delta":{"content":"b"}}]}\n\n');
          return void res.end('data: [DONE]\n\n');
      }
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(
          JSON.stringify({
            choices: [{ message: { role: 'assistant', content: 'Hello there' } }],
            usage: { prompt_tokens: 12, completion_tokens: 2, total_tokens: 14 },
          }),
        );
      }
      // Streaming: first token after 150 ms, then the rest, then a usage chunk and [DONE].
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      setTimeout(() => {
        res.write('data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n');
        res.write('data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n');
        setTimeout(() => {
          res.write('data: {"choices":[{"delta":{"content":"lo"}}]}\n\ndata: {"choices":[{"delta":{"content":" world"}}]}\n\n');
          res.write('data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}\n\n');
          res.end('data: [DONE]\n\n');
        }, 100);
      }, 150);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const request = (modelClass: string) => ({ modelClass, messages: [{ role: 'user' as const, content: 'Say hello' }], maxTokens: 16 });

describe('OpenAiChatClient', () => {
  it('streams: concatenates deltas, reads usage from the final chunk, measures TTFT before the duration', async () => {
    const client = new OpenAiChatClient({ baseUrl: base, models: { 'llm-70b-instruct': 'meta-llama/Llama-3.3-70B-Instruct' } });
    const r = await client.complete(request('llm-70b-instruct'));
    expect(r.output).toBe('Hello world');
    expect(r.usage).toEqual({ prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 });
    expect(r.ttftMs).toBeGreaterThanOrEqual(140);
    expect(r.durationMs).toBeGreaterThan(r.ttftMs + 50); // the rest came ~100 ms after the first token
    expect(seen.at(-1)).toMatchObject({
      model: 'meta-llama/Llama-3.3-70B-Instruct',
      max_tokens: 16,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('reads a non-streaming answer', async () => {
    const r = await new OpenAiChatClient({ baseUrl: base, stream: false }).complete(request('llm-8b-instruct'));
    expect(r).toMatchObject({ output: 'Hello there', usage: { prompt_tokens: 12, completion_tokens: 2 } });
    expect(r.ttftMs).toBe(r.durationMs);
  });

  it('counts stream chunks when the server sends no usage, and says so', async () => {
    const r = await new OpenAiChatClient({ baseUrl: base }).complete(request('no-usage'));
    expect(r).toMatchObject({ output: 'ab', usage: { completion_tokens: 2 }, usageEstimated: true });
  });

  it.each([
    ['boom', 'HTTP', 500, true],
    ['bad-request', 'HTTP', 400, false],
    ['garbage', 'BAD_RESPONSE', undefined, true],
  ])('surfaces %s as a typed %s failure', async (model, kind, status, retryable) => {
    const err = await new OpenAiChatClient({ baseUrl: base }).complete(request(model)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InferenceError);
    expect(err).toMatchObject({ kind, status, retryable });
  });

  it('times out as TIMEOUT', async () => {
    const err = await new OpenAiChatClient({ baseUrl: base, timeoutMs: 300, stream: false })
      .complete(request('slow'))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'TIMEOUT', retryable: true });
  });

  it('reports an unreachable server as CONNECTION', async () => {
    const err = await new OpenAiChatClient({ baseUrl: 'http://127.0.0.1:9' }).complete(request('x')).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'CONNECTION', retryable: true });
  });
});

describe('SimulatedInference', () => {
  it('is deterministic, honours maxTokens, reports usage, and runs at the set rate', async () => {
    const sim = new SimulatedInference(200);
    const a = await sim.complete(request('llm-70b-instruct'));
    const b = await sim.complete(request('llm-70b-instruct'));
    expect(a.output).toBe(b.output);
    expect(a.output.trimStart().split(' ')).toHaveLength(16); // 16 words, each with its leading space
    expect(a.usage).toEqual({ prompt_tokens: 3, completion_tokens: 16 });
    expect(a.durationMs).toBeGreaterThanOrEqual(75); // 16 tokens at 200/s = 80 ms
    expect(sim.description).toMatch(/SIMULATED/);
    expect((await new SimulatedInference(0).complete(request('x'))).durationMs).toBeLessThan(50);
  });
});
