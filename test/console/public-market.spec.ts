import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../harness/test-app.js';

describe('GET /v1/public/market', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('needs no key, is cacheable, and is rate-limited per address (120 a minute) with problem+json', async () => {
    const first = await fetch(`${t.baseUrl}/v1/public/market`);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('public, max-age=5');
    const statuses: number[] = [];
    for (let i = 0; i < 125; i++) statuses.push((await fetch(`${t.baseUrl}/v1/public/market`)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(119); // 120 including the first
    const limited = await fetch(`${t.baseUrl}/v1/public/market`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(((await limited.json()) as { code: string }).code).toBe('RATE_LIMITED');
    // The limit is this route's own: the rest of the API is unaffected.
    expect((await t.clearing.get('/v1/me')).status).toBe(200);
  });
});
