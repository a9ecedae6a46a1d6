import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, expectProblem, type TestMember } from '../harness/factories.js';
import type { ApiClient, ApiResponse } from '../harness/http.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

type Page<T> = { items: T[]; nextCursor: string | null };

/**
 * Follows `nextCursor` from the first page to the last: every page but the last is full and
 * names a cursor, the last names none. Returns every item in the order served.
 */
async function walk<T>(client: ApiClient, path: string, limit: number): Promise<T[]> {
  const sep = path.includes('?') ? '&' : '?';
  const items: T[] = [];
  let cursor: string | null = null;
  for (let pages = 0; ; pages++) {
    expect(pages, `${path}: too many pages`).toBeLessThan(100);
    const res: ApiResponse<Page<T>> = await client.get<Page<T>>(`${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status, res.text).toBe(200);
    items.push(...res.body.items);
    if (res.body.nextCursor === null) {
      expect(res.body.items.length).toBeLessThanOrEqual(limit);
      return items;
    }
    expect(res.body.items).toHaveLength(limit);
    cursor = res.body.nextCursor;
  }
}

/** The first page of `path` at `limit` names a cursor (there is more than one page). */
async function expectMorePages(client: ApiClient, path: string, limit: number): Promise<void> {
  const sep = path.includes('?') ? '&' : '?';
  const res = await client.get<Page<unknown>>(`${path}${sep}limit=${limit}`);
  expect(res.status, res.text).toBe(200);
  expect(res.body.nextCursor).toEqual(expect.any(String));
}

const byKey =
  <T>(key: (x: T) => string) =>
  (a: T, b: T) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;

describe('pagination of the markets and members lists', () => {
  let t: TestApp;
  let a: TestMember;
  let b: TestMember;
  let c: TestMember;
  const seriesCodes: string[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    [a, b, c] = [await createMember(t, 'TRADER'), await createMember(t, 'TRADER'), await createMember(t, 'TRADER')];
    for (const m of [a, b, c]) await fund(t, m, '1000.00');
    const product = await createProduct(t);
    // Two series share a last-trading instant: the id orders them.
    const lastTradingAt = new Date(Date.now() + 47 * 3_600_000).toISOString();
    seriesCodes.push(await createSeries(t, product), await createSeries(t, product, { lastTradingAt }));
    seriesCodes.push(await createSeries(t, product, { lastTradingAt }));
    for (const s of seriesCodes.slice(0, 2)) {
      for (const buyer of [b, c]) {
        expect((await order(a, s, 'SELL', '4.00', 1)).status).toBe(201);
        expect((await order(buyer, s, 'BUY', '4.00', 1)).body.status).toBe('FILLED');
      }
    }
  });
  afterAll(() => t.close());

  it('GET /v1/products: by code, every product once', async () => {
    for (const code of ['PGA', 'PGB', 'PGC', 'PGD']) await createProduct(t, { code });
    const expected = (await t.prisma.product.findMany()).map((p) => p.code).sort();
    await expectMorePages(t.clearing, '/v1/products', 2);
    const items = await walk<{ code: string }>(a.client, '/v1/products', 2);
    expect(items.map((p) => p.code)).toEqual(expected);
    expect(expected.length).toBeGreaterThan(4);
  });

  it('GET /v1/series: by last trading then id, every series once', async () => {
    const rows = await t.prisma.series.findMany();
    const expected = rows.sort(byKey((s) => `${s.lastTradingAt.toISOString()}|${s.id}`)).map((s) => s.code);
    expect(expected).toHaveLength(3);
    await expectMorePages(a.client, '/v1/series', 2);
    const items = await walk<{ code: string }>(a.client, '/v1/series', 1);
    expect(items.map((s) => s.code)).toEqual(expected);
  });

  it('GET /v1/positions: clearing pages every position, a member only its own', async () => {
    const rows = await t.prisma.position.findMany();
    const codes = new Map((await t.prisma.series.findMany()).map((s) => [s.id, s.code]));
    const expected = rows.sort(byKey((p) => `${p.seriesId}|${p.memberId}`)).map((p) => `${codes.get(p.seriesId)}|${p.memberId}`);
    expect(expected.length).toBeGreaterThanOrEqual(6);
    await expectMorePages(t.clearing, '/v1/positions', 2);
    const all = await walk<{ series: string; memberId: string }>(t.clearing, '/v1/positions', 2);
    expect(all.map((p) => `${p.series}|${p.memberId}`)).toEqual(expected);

    const own = await walk<{ series: string; memberId: string }>(a.client, '/v1/positions', 1);
    expect(own.map((p) => `${p.series}|${p.memberId}`)).toEqual(expected.filter((k) => k.endsWith(`|${a.id}`)));
    expect(own).toHaveLength(2);

    const inOne = await walk<{ series: string; memberId: string }>(t.clearing, `/v1/positions?series=${seriesCodes[0]}`, 2);
    expect(inOne.map((p) => `${p.series}|${p.memberId}`)).toEqual(expected.filter((k) => k.startsWith(`${seriesCodes[0]}|`)));
    expect(inOne).toHaveLength(3);
  });

  it('GET /v1/orders and /v1/trades: newest first, every row once, a member only its own', async () => {
    const orders = (await t.prisma.order.findMany()).sort((x, y) => (x.seq > y.seq ? -1 : 1));
    expect(orders.length).toBeGreaterThanOrEqual(8);
    await expectMorePages(t.clearing, '/v1/orders', 3);
    expect((await walk<{ id: string }>(t.clearing, '/v1/orders', 3)).map((o) => o.id)).toEqual(orders.map((o) => o.id));
    expect((await walk<{ id: string }>(a.client, '/v1/orders', 3)).map((o) => o.id)).toEqual(
      orders.filter((o) => o.memberId === a.id).map((o) => o.id),
    );

    const trades = (await t.prisma.trade.findMany()).sort((x, y) => (x.seq > y.seq ? -1 : 1));
    expect(trades).toHaveLength(4);
    await expectMorePages(t.clearing, '/v1/trades', 3);
    expect((await walk<{ id: string }>(t.clearing, '/v1/trades', 3)).map((x) => x.id)).toEqual(trades.map((x) => x.id));
    expect((await walk<{ id: string }>(b.client, '/v1/trades', 1)).map((x) => x.id)).toEqual(
      trades.filter((x) => x.buyerId === b.id || x.sellerId === b.id).map((x) => x.id),
    );
  });

  it('GET /v1/members: by id, every member once; a member sees itself', async () => {
    const expected = (await t.prisma.member.findMany()).map((m) => m.id).sort();
    expect(expected.length).toBeGreaterThanOrEqual(4);
    await expectMorePages(t.clearing, '/v1/members', 2);
    expect((await walk<{ id: string }>(t.clearing, '/v1/members', 2)).map((m) => m.id)).toEqual(expected);
    expect((await walk<{ id: string }>(a.client, '/v1/members', 2)).map((m) => m.id)).toEqual([a.id]);
  });

  it('GET /v1/members/:id/api-keys: by creation then id, every key once', async () => {
    for (let i = 0; i < 4; i++) expect((await t.clearing.post(`/v1/members/${a.id}/api-keys`, { role: 'trader' })).status).toBe(201);
    // Keys created in the same millisecond: the id orders them.
    const tied = await t.prisma.apiKey.findMany({ where: { memberId: a.id }, take: 3, orderBy: { id: 'asc' } });
    await t.prisma.apiKey.updateMany({ where: { id: { in: tied.map((k) => k.id) } }, data: { createdAt: tied[0].createdAt } });
    const keys = await t.prisma.apiKey.findMany({ where: { memberId: a.id } });
    const expected = keys.sort(byKey((k) => `${String(k.createdAt.getTime()).padStart(15, '0')}|${k.id}`)).map((k) => k.id);
    expect(expected).toHaveLength(5);
    await expectMorePages(a.client, `/v1/members/${a.id}/api-keys`, 2);
    expect((await walk<{ id: string }>(a.client, `/v1/members/${a.id}/api-keys`, 2)).map((k) => k.id)).toEqual(expected);
    expect((await walk<{ id: string }>(t.clearing, `/v1/members/${a.id}/api-keys`, 3)).map((k) => k.id)).toEqual(expected);
  });

  it('refuses limit above 500 and a cursor that is not one of ours', async () => {
    for (const path of [
      '/v1/products',
      '/v1/series',
      '/v1/positions',
      '/v1/orders',
      '/v1/trades',
      '/v1/members',
      `/v1/members/${t.clearingMemberId}/api-keys`,
    ]) {
      expectProblem(await t.clearing.get(`${path}?limit=501`), 400, 'VALIDATION_FAILED');
      expect((await t.clearing.get(`${path}?limit=500`)).status).toBe(200);
      expectProblem(await t.clearing.get(`${path}?cursor=bm90LWEta2V5`), 400, 'VALIDATION_FAILED');
    }
  });
});
