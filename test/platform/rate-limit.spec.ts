import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem } from '../harness/factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

describe('rate limiting (THROTTLE_LIMIT / THROTTLE_TTL_MS)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { THROTTLE_LIMIT: '5', THROTTLE_TTL_MS: '60000' } });
  });
  afterAll(() => t.close());

  it('answers 429 RATE_LIMITED as problem+json past the configured limit, never throttling health checks', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await t.clearing.get('/v1/me')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expectProblem(await t.clearing.get('/v1/me'), 429, 'RATE_LIMITED');
    for (let i = 0; i < 10; i++) expect((await t.client().get('/health/live')).status).toBe(200);
  });

  it('gives body-parser failures a request id too', async () => {
    const res = await fetch(`${t.baseUrl}/v1/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"x":' });
    const body = (await res.json()) as { code: string; requestId: string };
    expect(body.code).toBe('MALFORMED_JSON');
    expect(body.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-request-id')).toBe(body.requestId);
  });
});
