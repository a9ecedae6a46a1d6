import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem } from '../harness/factories.js';
import { expire, physicalMarket, submitJob, waitFor, type LeasedJob, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import type { ApiClient, ApiResponse } from '../harness/http.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

type Page<T> = { items: T[]; nextCursor: string | null };

/** Follows nextCursor from the first page to the last; every page but the last must say there is more. */
async function allPages<T>(client: ApiClient, path: string, limit: number): Promise<{ rows: T[]; pages: number }> {
  const rows: T[] = [];
  let pages = 0;
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res: ApiResponse<Page<T>> = await client.get<Page<T>>(`${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.length).toBeLessThanOrEqual(limit);
    pages++;
    rows.push(...res.body.items);
    cursor = res.body.nextCursor;
    // A cursor only when more rows exist: a full page may be the last, an empty one never follows a cursor.
    if (cursor) expect(res.body.items).toHaveLength(limit);
    else if (pages > 1) expect(res.body.items.length).toBeGreaterThan(0);
  } while (cursor);
  return { rows, pages };
}

describe('delivery list endpoints page with a cursor', () => {
  let t: TestApp;
  let m: PhysicalMarket;

  beforeAll(async () => {
    // Nodes stay ONLINE on their registration heartbeat for the whole file (no agent runs here).
    t = await startTestApp({ env: { HEARTBEAT_INTERVAL_MS: '3600000' } });
    // Three operators each selling one contract to their own buyer: three obligations, and (once
    // each operator's node completes a job) three operators in the quality report.
    m = await physicalMarket(t, {
      operators: 3,
      nodesPerOperator: 1,
      buyers: 3,
      trades: [0, 1, 2].map((i) => ({ seller: ['op', i] as ['op', number], buyer: ['buyer', i] as ['buyer', number], quantity: 1 })),
    });
    await expire(t, m);
  });
  afterAll(() => t.close());

  it('GET /v1/obligations: every obligation once, in id order, over several pages', async () => {
    const expected = await t.prisma.deliveryObligation.findMany({ orderBy: { id: 'asc' }, select: { id: true } });
    expect(expected.length).toBeGreaterThan(2);
    const { rows, pages } = await allPages<{ id: string }>(t.clearing, '/v1/obligations', 2);
    expect(pages).toBeGreaterThan(1);
    expect(rows.map((r) => r.id)).toEqual(expected.map((e) => e.id));
    expectProblem(await t.clearing.get('/v1/obligations?limit=501'), 400, 'VALIDATION_FAILED');
    expectProblem(await t.clearing.get('/v1/obligations?cursor=bm90LWEtdXVpZA'), 400, 'VALIDATION_FAILED');
  });

  it('GET /v1/delivery/jobs: every job once, newest first, over several pages', async () => {
    const buyer = m.buyers[0];
    for (let i = 0; i < 5; i++) {
      const res = await submitJob(buyer, m.series, 10, `page-${i}`);
      expect(res.status, res.text).toBe(201);
    }
    const expected = await t.prisma.deliveryJob.findMany({ where: { buyerId: buyer.id }, orderBy: { seq: 'desc' }, select: { id: true } });
    expect(expected).toHaveLength(5);
    const { rows, pages } = await allPages<{ id: string }>(buyer.client, '/v1/delivery/jobs', 2);
    expect(pages).toBe(3);
    expect(rows.map((r) => r.id)).toEqual(expected.map((e) => e.id));
    expectProblem(await buyer.client.get('/v1/delivery/jobs?limit=501'), 400, 'VALIDATION_FAILED');
  });

  it('GET /v1/delivery/quality: one row per operator, paged by operator id', async () => {
    // A job from each buyer (each buyer's obligation is with one operator, each operator's with
    // one buyer); then each operator's node leases a job and completes it: a usage record per operator.
    for (const buyer of m.buyers) {
      const sub = await submitJob(buyer, m.series, 10, 'quality');
      expect(sub.status, sub.text).toBe(201);
    }
    for (const { nodes } of m.operators) {
      const node = t.client(nodes[0].nodeToken);
      const [job] = await waitFor('a job leased to the node', async () => {
        const res = await node.post<{ jobs: LeasedJob[] }>(`/v1/nodes/${nodes[0].id}/lease`, { maxJobs: 1, waitSeconds: 1 });
        return res.body.jobs.length > 0 ? res.body.jobs : undefined;
      });
      const done = await node.post(`/v1/delivery/jobs/${job.id}/complete`, {
        leaseToken: job.leaseToken,
        usage: { prompt_tokens: 40, completion_tokens: 100 },
        ttftMs: 100,
        durationMs: 1_000,
        output: 'ok',
      });
      expect(done.status, done.text).toBe(200);
    }
    const operators = m.operators.map((o) => o.member.id).sort((a, b) => a.localeCompare(b));
    const { rows, pages } = await allPages<{ operatorId: string; jobs: number }>(t.clearing, '/v1/delivery/quality', 2);
    expect(pages).toBe(2);
    expect(rows.map((r) => r.operatorId)).toEqual(
      (await t.prisma.usageRecord.groupBy({ by: ['operatorId'], orderBy: { operatorId: 'asc' } })).map((r) => r.operatorId),
    );
    expect(new Set(rows.map((r) => r.operatorId))).toEqual(new Set(operators));
    expect(rows.every((r) => r.jobs === 1)).toBe(true);
    // An operator sees its own row only.
    const own = await m.operators[1].member.client.get<Page<{ operatorId: string }>>('/v1/delivery/quality?limit=1');
    expect(own.body).toEqual({ items: [expect.objectContaining({ operatorId: m.operators[1].member.id })], nextCursor: null });
    expectProblem(await t.clearing.get('/v1/delivery/quality?limit=501'), 400, 'VALIDATION_FAILED');
  });
});
