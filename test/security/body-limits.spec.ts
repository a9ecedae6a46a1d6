import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BATCH_CHARS, MAX_JOB_CHARS, MAX_REPORT_CHARS } from '../../src/delivery/dto/delivery.dto.js';
import { MAX_REASONABLE_BODY, type RouteLimit } from '../../src/platform/http/body-limits.js';
import { BODY_LIMITS } from '../../src/platform/http/configure-app.js';
import { expectProblem } from '../harness/factories.js';
import { expire, physicalMarket, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

/** A control character: JSON.stringify writes it as \u0001, the most bytes a character can cost (6). */
const WORST = '\u0001';

/** API4: body limits derived from the DTOs' maxima (src/platform/http/body-limits.ts). */
describe('body limits fit the largest valid body of every route', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  let table: RouteLimit[];
  const limitOf = (method: string, path: string) => table.find((r) => r.method === method && r.path === path)!.limit;
  const raw = (method: string, path: string, body: string, key = t.clearingKey) =>
    fetch(`${t.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
  /** A JSON document of exactly `bytes` bytes. */
  const sized = (bytes: number) => `{"x":"${'a'.repeat(bytes - 8)}"}`;

  beforeAll(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'fatal', DELIVERY_MAX_TOKENS: '32768' } });
    table = (t.app.getHttpAdapter().getInstance() as { get(k: string): RouteLimit[] }).get(BODY_LIMITS);
    m = await physicalMarket(t, {
      operators: 1,
      nodesPerOperator: 1,
      buyers: 1,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
    });
    await expire(t, m);
  });
  afterAll(() => t.close());

  it('every route has a finite limit; routes without a body DTO a small one', () => {
    const withBody = table.filter((r) => r.dto);
    expect(withBody.length).toBeGreaterThan(20);
    for (const r of table) expect([r.method, r.path, r.limit <= MAX_REASONABLE_BODY]).toEqual([r.method, r.path, true]);
    expect(table.filter((r) => r.method === 'GET').every((r) => r.dto === null)).toBe(true);
    // The delivery bodies were above the old global 1 MB.
    expect(limitOf('POST', '/v1/delivery/jobs')).toBeGreaterThan(MAX_JOB_CHARS * 6);
    expect(limitOf('POST', '/v1/delivery/jobs/batch')).toBeGreaterThan(MAX_BATCH_CHARS * 6);
  });

  it('on every JSON route a body of exactly its limit is read (not 413) and one byte more is refused 413 PAYLOAD_TOO_LARGE', async () => {
    for (const r of table.filter((x) => ['POST', 'PUT', 'PATCH'].includes(x.method))) {
      const path = r.path.replace(/:[A-Za-z]+/g, () => randomUUID());
      const at = await raw(r.method, path, sized(r.limit));
      expect([r.method, r.path, at.status]).not.toEqual([r.method, r.path, 413]);
      const over = await raw(r.method, path, sized(r.limit + 1));
      expect([r.method, r.path, over.status]).toEqual([r.method, r.path, 413]);
      expect(over.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(((await over.json()) as { code: string }).code).toBe('PAYLOAD_TOO_LARGE');
    }
  });

  it('the largest valid job (its whole character budget in 6-byte characters) is accepted', async () => {
    const buyer = m.buyers[0];
    const fixed = m.series.length + 'llm-70b-instruct'.length + 'user'.length * 16;
    const content = WORST.repeat(Math.floor((MAX_JOB_CHARS - fixed) / 16));
    const body = {
      series: m.series,
      modelClass: 'llm-70b-instruct',
      messages: Array.from({ length: 16 }, () => ({ role: 'user', content })),
      maxTokens: 1,
    };
    const text = JSON.stringify(body);
    expect(text.length).toBeGreaterThan(MAX_JOB_CHARS * 5.9);
    expect(text.length).toBeLessThanOrEqual(limitOf('POST', '/v1/delivery/jobs'));
    const res = await raw('POST', '/v1/delivery/jobs', text, buyer.key);
    expect(res.status, await res.clone().text()).toBe(201);

    // One character over the budget is a validation error naming the field, not a 413.
    // Over the budget in plain characters (well within the byte limit): 400 naming the field, not 413.
    body.messages = Array.from({ length: 17 }, () => ({ role: 'user', content: 'a'.repeat(32_000) }));
    const over = await buyer.client.post('/v1/delivery/jobs', body);
    expectProblem(over, 400, 'VALIDATION_FAILED');
    expect(over.text).toContain('messages');
  });

  it('the largest valid batch is accepted; over its budget it is 400', async () => {
    const buyer = m.buyers[0];
    const perJobFixed = m.series.length + 'llm-70b-instruct'.length + 'user'.length;
    const content = WORST.repeat(Math.floor(MAX_BATCH_CHARS / 100) - perJobFixed);
    const job = { series: m.series, modelClass: 'llm-70b-instruct', messages: [{ role: 'user', content }], maxTokens: 1 };
    const text = JSON.stringify({ jobs: Array.from({ length: 100 }, () => job) });
    expect(text.length).toBeGreaterThan(MAX_BATCH_CHARS * 5.9);
    expect(text.length).toBeLessThanOrEqual(limitOf('POST', '/v1/delivery/jobs/batch'));
    const res = await raw('POST', '/v1/delivery/jobs/batch', text, buyer.key);
    expect(res.status, (await res.clone().text()).slice(0, 500)).toBe(200);
    expect(((await res.json()) as { items: { status: number }[] }).items.every((i) => i.status === 201)).toBe(true);

    const over = { jobs: Array.from({ length: 100 }, () => ({ ...job, messages: [{ role: 'user', content: content + 'xx' }] })) };
    expectProblem(await buyer.client.post('/v1/delivery/jobs/batch', over), 400, 'VALIDATION_FAILED');
  });

  it('a completion report of its whole budget is read (each item answered on its own)', async () => {
    const node = m.operators[0].nodes[0];
    const completion = (output: string) => ({
      jobId: randomUUID(),
      leaseToken: 'x'.repeat(64),
      usage: { prompt_tokens: 1, completion_tokens: 1 },
      ttftMs: 1,
      durationMs: 1,
      output,
    });
    const outputs = 4;
    const body = { completions: Array.from({ length: outputs }, () => completion(WORST.repeat(MAX_REPORT_CHARS / outputs - 100))) };
    const text = JSON.stringify(body);
    expect(text.length).toBeGreaterThan(MAX_REPORT_CHARS * 5.9);
    expect(text.length).toBeLessThanOrEqual(limitOf('POST', '/v1/nodes/:id/completions'));
    const res = await raw('POST', `/v1/nodes/${node.id}/completions`, text, node.nodeToken);
    expect(res.status, (await res.clone().text()).slice(0, 300)).toBe(200);
  });
});
