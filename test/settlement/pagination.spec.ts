import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient, ApiResponse } from '../harness/http.js';
import { createMember, expectProblem } from '../harness/factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

interface Row {
  id: string;
}

/** Follows `nextCursor` from the first page to the last; every page but the last is full. */
async function allPages(client: ApiClient, path: string, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res: ApiResponse<{ items: Row[]; nextCursor: string | null }> = await client.get(
      `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    expect(res.status, res.text).toBe(200);
    pages++;
    if (res.body.nextCursor !== null) expect(res.body.items).toHaveLength(limit);
    ids.push(...res.body.items.map((r) => r.id));
    cursor = res.body.nextCursor;
    expect(pages).toBeLessThan(50);
  } while (cursor !== null);
  return { ids, pages };
}

/** Newest first, the id breaking ties — the order both lists promise. */
function newestFirst(rows: { id: string; createdAt: Date }[]): string[] {
  return [...rows]
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
    .map((r) => r.id);
}

describe('settlement lists page with a cursor', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('GET /v1/margin-calls: every call of the member exactly once, newest first, across pages', async () => {
    const m = await createMember(t, 'TRADER');
    const other = await createMember(t, 'TRADER');
    // Three calls share one creation instant, so the id has to break the tie across a page boundary.
    const tie = new Date('2026-12-01T08:00:00.000Z');
    const created = [tie, tie, tie, new Date('2026-12-01T08:00:00.001Z'), new Date('2026-11-30T08:00:00Z')];
    const rows = [];
    for (const [i, createdAt] of created.entries()) {
      rows.push(
        await t.prisma.marginCall.create({
          data: { memberId: m.id, amountFen: BigInt(100 + i), businessDate: new Date('2026-11-30T00:00:00Z'), dueAt: tie, createdAt },
        }),
      );
    }
    await t.prisma.marginCall.create({
      data: { memberId: other.id, amountFen: 1n, businessDate: new Date('2026-11-30T00:00:00Z'), dueAt: tie },
    });

    const paged = await allPages(m.client, '/v1/margin-calls', 2);
    expect(paged.pages).toBe(3);
    expect(paged.ids).toEqual(newestFirst(rows));
    // Filters hold across pages too; clearing staff see every member's calls.
    expect((await allPages(m.client, '/v1/margin-calls?status=OPEN', 3)).ids).toEqual(newestFirst(rows));
    expect((await allPages(m.client, '/v1/margin-calls?status=CLOSED', 2)).ids).toEqual([]);
    expect((await allPages(t.clearing, '/v1/margin-calls', 2)).ids).toHaveLength(6);

    expectProblem(await m.client.get('/v1/margin-calls?limit=501'), 400, 'VALIDATION_FAILED');
    expectProblem(await m.client.get('/v1/margin-calls?cursor=bm90LWEtY3Vyc29y'), 400, 'VALIDATION_FAILED');
  });

  it('GET /v1/settlement/runs: every run of the date exactly once, newest first, across pages', async () => {
    const tie = new Date();
    const created = [tie, tie, new Date(tie.getTime() - 1_000), new Date(tie.getTime() - 2_000), tie];
    const runs = [];
    for (const createdAt of created) {
      runs.push(
        await t.prisma.settlementRun.create({ data: { type: 'DAILY', businessDate: new Date('2026-11-16T00:00:00Z'), createdAt } }),
      );
    }
    // Another date's run stays out of the date's pages.
    await t.prisma.settlementRun.create({ data: { type: 'DAILY', businessDate: new Date('2026-11-17T00:00:00Z') } });

    const paged = await allPages(t.clearing, '/v1/settlement/runs?businessDate=2026-11-16', 2);
    expect(paged.pages).toBe(3);
    expect(paged.ids).toEqual(newestFirst(runs));
    // Without a date: the runs created in the last 24 hours, paged the same way.
    expect((await allPages(t.clearing, '/v1/settlement/runs', 4)).ids).toHaveLength(6);

    expectProblem(await t.clearing.get('/v1/settlement/runs?limit=501'), 400, 'VALIDATION_FAILED');
    expectProblem(await t.clearing.get('/v1/settlement/runs?cursor=bm90LWEtY3Vyc29y'), 400, 'VALIDATION_FAILED');
  });
});
