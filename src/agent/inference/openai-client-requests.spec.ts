import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatCompletionsUrl, OpenAiChatClient } from './openai-client.js';

// What reaches an OpenAI-compatible server: the path (whatever prefix a gateway puts before
// it), the headers and the body. Answers 404 off /…/v1/chat/completions, stalls on 'stall'.
let server: http.Server;
let origin: string;
const seen: { url: string; authorization?: string; body: Record<string, unknown> }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      seen.push({ url: req.url!, authorization: req.headers.authorization, body });
      if (!req.url!.endsWith('/v1/chat/completions')) return void res.writeHead(404).end();
      if (body.model === 'stall') return; // never answers
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { content: 'ok' } }], usage: { prompt_tokens: 1, completion_tokens: 1 } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
});

const request = { modelClass: 'llm-8b-instruct', messages: [{ role: 'user' as const, content: 'hi' }], maxTokens: 4 };

describe('chatCompletionsUrl', () => {
  it.each([
    ['http://h', 'http://h/v1/chat/completions'],
    ['http://h/', 'http://h/v1/chat/completions'],
    ['http://h/openai', 'http://h/openai/v1/chat/completions'],
    ['http://h/openai/', 'http://h/openai/v1/chat/completions'],
    ['http://h:8000/v1', 'http://h:8000/v1/chat/completions'],
    ['http://h:8000/v1/', 'http://h:8000/v1/chat/completions'],
    ['https://gw/team/a/v1', 'https://gw/team/a/v1/chat/completions'],
    ['http://h/v10', 'http://h/v10/v1/chat/completions'],
    ['http://h/openai/?api-version=2', 'http://h/openai/v1/chat/completions?api-version=2'],
  ])('%s → %s', (base, url) => {
    expect(chatCompletionsUrl(base).href).toBe(url);
  });
});

describe('OpenAiChatClient requests', () => {
  it('keeps the base path: a gateway prefix reaches the server, a /v1 base is not doubled', async () => {
    for (const [base, path] of [
      [`${origin}/openai/`, '/openai/v1/chat/completions'],
      [`${origin}/v1`, '/v1/chat/completions'],
      [origin, '/v1/chat/completions'],
    ]) {
      const r = await new OpenAiChatClient({ baseUrl: base, stream: false }).complete(request);
      expect(r.output).toBe('ok');
      expect(seen.at(-1)!.url).toBe(path);
    }
  });

  it('sends the key as a bearer token, and none without one', async () => {
    await new OpenAiChatClient({ baseUrl: origin, stream: false, apiKey: 'sk-1' }).complete(request);
    expect(seen.at(-1)!.authorization).toBe('Bearer sk-1');
    await new OpenAiChatClient({ baseUrl: origin, stream: false }).complete(request);
    expect(seen.at(-1)!.authorization).toBeUndefined();
  });

  it('asks for greedy decoding always, and passes the job seed when there is one', async () => {
    await new OpenAiChatClient({ baseUrl: origin, stream: false }).complete({ ...request, seed: 1234 });
    expect(seen.at(-1)!.body).toMatchObject({ temperature: 0, seed: 1234 });
    await new OpenAiChatClient({ baseUrl: origin, stream: false }).complete(request);
    expect(seen.at(-1)!.body.temperature).toBe(0);
    expect(seen.at(-1)!.body).not.toHaveProperty('seed');
  });

  it("a request's own time limit beats the client default", async () => {
    const client = new OpenAiChatClient({ baseUrl: origin, timeoutMs: 60_000 });
    const started = Date.now();
    const err = await client.complete({ ...request, modelClass: 'stall', timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'TIMEOUT', retryable: true, message: 'no complete answer within 300 ms' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
