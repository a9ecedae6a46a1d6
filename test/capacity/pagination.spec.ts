import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataCenter, createNode, type TestNode } from '../harness/capacity-factories.js';
import { createMember, expectProblem, type TestMember } from '../harness/factories.js';
import type { ApiClient, ApiResponse } from '../harness/http.js';
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

const createdOrder = <T extends { createdAt: Date; id: string }>(rows: T[]) =>
  rows
    .map((r) => ({ r, key: `${String(r.createdAt.getTime()).padStart(15, '0')}|${r.id}` }))
    .sort((x, y) => (x.key < y.key ? -1 : 1))
    .map((x) => x.r.id);

const REGIONS = ['cn-east-1', 'cn-north-1', 'cn-south-1'];
const MODELS = [
  { modelClass: 'llm-8b-instruct', tokensPerSecond: 500 },
  { modelClass: 'llm-70b-instruct', tokensPerSecond: 100 },
];

describe('pagination of the capacity lists', () => {
  let t: TestApp;
  let opA: TestMember;
  let opB: TestMember;
  const nodes: TestNode[] = [];

  beforeAll(async () => {
    t = await startTestApp({ env: { HEARTBEAT_INTERVAL_MS: '3600000' } });
    [opA, opB] = [await createMember(t, 'OPERATOR'), await createMember(t, 'OPERATOR')];
    for (const region of REGIONS) {
      const dc = await createDataCenter(opA, region);
      for (let i = 0; i < 2; i++) nodes.push(await createNode(opA, dc, MODELS));
    }
    nodes.push(await createNode(opB, await createDataCenter(opB, 'cn-east-1'), MODELS));
    for (const n of nodes) {
      const res = await t.client().post(`/v1/nodes/${n.id}/heartbeat`, {}, { authorization: `Bearer ${n.nodeToken}` });
      expect(res.status, res.text).toBe(200);
    }
    // Rows registered in the same millisecond: the id orders them.
    const tied = nodes.slice(0, 3).map((n) => n.id);
    await t.prisma.node.updateMany({ where: { id: { in: tied } }, data: { createdAt: new Date('2026-01-01T00:00:00Z') } });
    const dcs = await t.prisma.dataCenter.findMany({ where: { operatorId: opA.id }, take: 2 });
    await t.prisma.dataCenter.updateMany({
      where: { id: { in: dcs.map((d) => d.id) } },
      data: { createdAt: new Date('2026-01-01T00:00:00Z') },
    });
  });
  afterAll(() => t.close());

  it('GET /v1/datacenters: by registration then id, every row once; operators see their own', async () => {
    const all = createdOrder(await t.prisma.dataCenter.findMany());
    expect(all).toHaveLength(4);
    expect((await t.clearing.get<Page<unknown>>('/v1/datacenters?limit=2')).body.nextCursor).toEqual(expect.any(String));
    expect((await walk<{ id: string }>(t.clearing, '/v1/datacenters', 2)).map((d) => d.id)).toEqual(all);
    const own = createdOrder(await t.prisma.dataCenter.findMany({ where: { operatorId: opA.id } }));
    expect((await walk<{ id: string }>(opA.client, '/v1/datacenters', 1)).map((d) => d.id)).toEqual(own);
    expect((await walk<{ id: string }>(opB.client, '/v1/datacenters', 1)).map((d) => d.id)).toHaveLength(1);
  });

  it('GET /v1/nodes: by registration then id, every node once; operators see their own', async () => {
    const all = createdOrder(await t.prisma.node.findMany());
    expect(all).toHaveLength(7);
    expect((await t.clearing.get<Page<unknown>>('/v1/nodes?limit=3')).body.nextCursor).toEqual(expect.any(String));
    expect((await walk<{ id: string }>(t.clearing, '/v1/nodes', 3)).map((n) => n.id)).toEqual(all);
    const own = createdOrder(await t.prisma.node.findMany({ where: { operatorId: opA.id } }));
    expect((await walk<{ id: string; operatorId: string }>(opA.client, '/v1/nodes', 2)).map((n) => n.id)).toEqual(own);
  });

  it('GET /v1/capacity: rows by model class then region, every row once, each with its totals', async () => {
    const expected = MODELS.map((m) => m.modelClass)
      .sort()
      .flatMap((modelClass) => REGIONS.map((region) => ({ modelClass, region })));
    expect((await opB.client.get<Page<unknown>>('/v1/capacity?limit=2')).body.nextCursor).toEqual(expect.any(String));
    const rows = await walk<{ modelClass: string; region: string; onlineNodes: number; tokensPerSecond: number }>(
      opB.client,
      '/v1/capacity',
      2,
    );
    expect(rows.map((r) => ({ modelClass: r.modelClass, region: r.region }))).toEqual(expected);
    const tps = (modelClass: string) => MODELS.find((m) => m.modelClass === modelClass)!.tokensPerSecond;
    for (const r of rows) {
      const online = r.region === 'cn-east-1' ? 3 : 2;
      expect(r).toMatchObject({ onlineNodes: online, tokensPerSecond: online * tps(r.modelClass) });
    }
    // The same pages with a filter.
    const east = await walk<{ modelClass: string; region: string }>(opB.client, '/v1/capacity?region=cn-east-1', 1);
    expect(east.map((r) => r.modelClass)).toEqual(MODELS.map((m) => m.modelClass).sort());
    // Every row in one page when the limit allows.
    const one = await opB.client.get<Page<unknown>>('/v1/capacity?limit=6');
    expect(one.body.items).toHaveLength(6);
    expect(one.body.nextCursor).toBeNull();
  });

  it('refuses limit above 500 and a cursor that is not one of ours', async () => {
    for (const path of ['/v1/datacenters', '/v1/nodes', '/v1/capacity']) {
      expectProblem(await t.clearing.get(`${path}?limit=501`), 400, 'VALIDATION_FAILED');
      expect((await t.clearing.get(`${path}?limit=500`)).status).toBe(200);
      expectProblem(await t.clearing.get(`${path}?cursor=bm90LWEta2V5`), 400, 'VALIDATION_FAILED');
    }
  });
});
