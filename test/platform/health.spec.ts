import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem } from '../harness/factories.js';
import { RedisProcess } from '../harness/redis-process.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

describe('health, metrics, docs and the queue board', () => {
  let redis: RedisProcess;
  let t: TestApp;

  beforeAll(async () => {
    redis = await RedisProcess.start();
    t = await startTestApp({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await t.close();
    await redis.kill();
  });

  it('is ready with Postgres and Redis; 503 naming Redis while it is down; ready again without a restart', async () => {
    const up = await t.client().get('/health/ready');
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ status: 'ok', info: { postgres: { status: 'up' }, redis: { status: 'up' } } });

    await redis.kill();
    const down = await t.client().get<{ error: Record<string, unknown> }>('/health/ready');
    expect(down.status).toBe(503);
    expect(Object.keys(down.body.error)).toEqual(['redis']);
    expect((await t.client().get('/health/live')).status).toBe(200);

    await redis.up();
    const deadline = Date.now() + 15_000;
    let again = await t.client().get('/health/ready');
    while (again.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      again = await t.client().get('/health/ready');
    }
    expect(again.status).toBe(200);
  }, 30_000);

  it('serves Prometheus metrics with HTTP latency by route and queue depths', async () => {
    await t.clearing.get('/v1/me');
    const res = await fetch(`${t.baseUrl}/metrics`);
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/v1\/me",status="200"\} \d+/);
    expect(text).toMatch(/bullmq_queue_jobs\{queue="maintenance",state="waiting"\} \d+/);
  });

  it('documents every route in OpenAPI and serves Swagger UI', async () => {
    const doc = await t.client().get<{ openapi: string; paths: Record<string, unknown> }>('/openapi.json');
    expect(doc.body.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/me',
        '/v1/members',
        '/v1/members/{id}',
        '/v1/members/{id}/api-keys',
        '/v1/api-keys/{id}',
        '/health/ready',
      ]),
    );
    const ui = await fetch(`${t.baseUrl}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger');
  });

  it('puts a request id on every response, keeping a sane caller-supplied one', async () => {
    const own = await t.client().get('/health/live', { 'x-request-id': 'trace-abc.123' });
    expect(own.headers.get('x-request-id')).toBe('trace-abc.123');
    const generated = await t.client().get('/v1/me');
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect((generated.body as { requestId: string }).requestId).toBe(generated.headers.get('x-request-id'));
  });

  it('guards Bull Board with a clearing key (Bearer or Basic)', async () => {
    const anonymous = await t.client().get('/admin/queues');
    expectProblem(anonymous, 401, 'UNAUTHENTICATED');
    expect((await t.clearing.get('/admin/queues')).status).toBe(200);
    const basic = Buffer.from(`clearing:${t.clearingKey}`).toString('base64');
    expect((await t.client().get('/admin/queues', { authorization: `Basic ${basic}` })).status).toBe(200);
  });
});
