import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, expectProblem } from '../harness/factories.js';
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

describe('rate limits shared by every API copy (Redis)', () => {
  let a: TestApp;
  let b: TestApp;
  const env = { THROTTLE_LIMIT: '6', THROTTLE_TTL_MS: '60000' };
  beforeAll(async () => {
    a = await startTestApp({ env });
    b = await startTestApp({ env, replicaOf: a });
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('two copies count one limit: 3 requests on A and 3 on B use it up, the next on either is refused', async () => {
    for (let i = 0; i < 3; i++) expect((await a.clearing.get('/v1/me')).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await b.clearing.get('/v1/me')).status).toBe(200);
    expectProblem(await b.clearing.get('/v1/me'), 429, 'RATE_LIMITED');
    expectProblem(await a.clearing.get('/v1/me'), 429, 'RATE_LIMITED');
  });
});

describe('rate limits per credential (THROTTLE_KEY_LIMIT)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { THROTTLE_LIMIT: '1000', THROTTLE_KEY_LIMIT: '4', THROTTLE_TTL_MS: '60000' } });
  });
  afterAll(() => t.close());

  it('one key past its limit is refused while another key from the same address goes on', async () => {
    const buyer = await createMember(t, 'BUYER');
    const other = await createMember(t, 'BUYER');
    const client = t.client(buyer.key);
    for (let i = 0; i < 4; i++) expect((await client.get('/v1/me')).status).toBe(200);
    expectProblem(await client.get('/v1/me'), 429, 'RATE_LIMITED');
    expect((await t.client(other.key).get('/v1/me')).status).toBe(200);
  });
});

describe('key guessing is rate-limited (the key check and the limits run together)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { THROTTLE_LIMIT: '5', THROTTLE_KEY_LIMIT: '1000', THROTTLE_TTL_MS: '60000' } });
  });
  afterAll(() => t.close());

  it('requests with unknown keys are answered 401 and still count against the address: past its limit even a good key is refused', async () => {
    // An unknown key is refused for what it is (401 comes before 429), however many were tried…
    for (let i = 0; i < 7; i++) expectProblem(await t.client(`tc_guess_${i}`).get('/v1/me'), 401, 'UNAUTHENTICATED');
    // …and each guess used the address's allowance: the guesser cannot go on from here.
    expectProblem(await t.clearing.get('/v1/me'), 429, 'RATE_LIMITED');
  });
});
