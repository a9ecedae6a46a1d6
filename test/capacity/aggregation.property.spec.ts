import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../harness/test-app.js';

const REGIONS = ['cn-north-1', 'cn-east-1', 'cn-east-2', 'cn-south-1', 'cn-west-1'];
const CLASSES = ['llm-8b-instruct', 'llm-70b-instruct', 'llm-400b-moe'];

interface FleetNode {
  operator: number;
  region: string;
  status: 'ONLINE' | 'DRAINING' | 'OFFLINE';
  models: { modelClass: string; tokensPerSecond: number }[];
}

const fleetArb = fc.array(
  fc.record({
    operator: fc.integer({ min: 0, max: 3 }),
    region: fc.constantFrom(...REGIONS),
    status: fc.constantFrom('ONLINE' as const, 'DRAINING' as const, 'OFFLINE' as const),
    models: fc.uniqueArray(
      fc.record({ modelClass: fc.constantFrom(...CLASSES), tokensPerSecond: fc.integer({ min: 1, max: 1_000_000 }) }),
      {
        minLength: 1,
        maxLength: 3,
        selector: (m) => m.modelClass,
      },
    ),
  }),
  { maxLength: 40 },
);

/** The brute-force reference: loops over the fleet, no SQL. */
function bruteForce(fleet: FleetNode[]) {
  const rows = new Map<string, { modelClass: string; region: string; onlineNodes: number; tokensPerSecond: number }>();
  for (const n of fleet) {
    if (n.status !== 'ONLINE') continue;
    for (const m of n.models) {
      const k = `${m.modelClass}|${n.region}`;
      const row = rows.get(k) ?? { modelClass: m.modelClass, region: n.region, onlineNodes: 0, tokensPerSecond: 0 };
      row.onlineNodes++;
      row.tokensPerSecond += m.tokensPerSecond;
      rows.set(k, row);
    }
  }
  return [...rows.values()]
    .map((r) => ({ ...r, committedTokensPerSecond: 0, availableTokensPerSecond: r.tokensPerSecond }))
    .sort((a, b) => (a.modelClass + a.region < b.modelClass + b.region ? -1 : 1));
}

describe('GET /v1/capacity equals a brute-force recomputation on random fleets (fast-check)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { HEARTBEAT_INTERVAL_MS: '3600000' } });
  });
  afterAll(() => t.close());

  it('for every fleet and every filter', async () => {
    const operators = await Promise.all(
      [0, 1, 2, 3].map((i) => t.prisma.member.create({ data: { name: `prop-op-${i}`, kind: 'OPERATOR' } }).then((m) => m.id)),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fleetArb,
        fc.option(fc.constantFrom(...CLASSES)),
        fc.option(fc.constantFrom(...REGIONS)),
        async (fleet, modelClass, region) => {
          run++;
          await t.prisma.nodeModel.deleteMany();
          await t.prisma.node.deleteMany();
          await t.prisma.dataCenter.deleteMany();
          for (const [i, n] of fleet.entries()) {
            const dc = await t.prisma.dataCenter.create({
              data: { operatorId: operators[n.operator], name: `dc-${run}-${i}`, region: n.region },
            });
            await t.prisma.node.create({
              data: {
                dataCenterId: dc.id,
                operatorId: operators[n.operator],
                region: n.region,
                gpuModel: 'H800',
                gpuCount: 8,
                status: n.status,
                tokenHash: `${run}-${i}`.padEnd(64, '0'),
                models: { create: n.models },
              },
            });
          }
          const qs = new URLSearchParams({ ...(modelClass ? { modelClass } : {}), ...(region ? { region } : {}) });
          const res = await t.clearing.get<{ items: unknown[] }>(`/v1/capacity?${qs}`);
          const expected = bruteForce(fleet).filter(
            (r) => (!modelClass || r.modelClass === modelClass) && (!region || r.region === region),
          );
          expect(res.body.items).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  }, 120_000);

  it('stays exact while nodes register, heartbeat and drain concurrently', async () => {
    const { createMember } = await import('../harness/factories.js');
    const { createDataCenter, createNode } = await import('../harness/capacity-factories.js');
    await t.prisma.nodeModel.deleteMany();
    await t.prisma.node.deleteMany();
    await t.prisma.dataCenter.deleteMany();
    const ops = await Promise.all([0, 1, 2, 3].map(() => createMember(t, 'OPERATOR')));
    const dcs = await Promise.all(ops.map((op, i) => createDataCenter(op, REGIONS[i % REGIONS.length])));
    const snapshots: { onlineNodes: number; tokensPerSecond: number }[][] = [];
    const reading = (async () => {
      for (let i = 0; i < 30; i++)
        snapshots.push(
          (await t.clearing.get<{ items: { onlineNodes: number; tokensPerSecond: number }[] }>('/v1/capacity?modelClass=llm-8b-instruct'))
            .body.items,
        );
    })();
    await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const op = ops[i % 4];
        const node = await createNode(op, dcs[i % 4], [{ modelClass: 'llm-8b-instruct', tokensPerSecond: 100 + i }]);
        await t.client().post(`/v1/nodes/${node.id}/heartbeat`, {}, { authorization: `Bearer ${node.nodeToken}` });
        if (i % 3 === 0) await op.client.patch(`/v1/nodes/${node.id}`, { status: 'DRAINING' });
      }),
    );
    await reading;
    // Every snapshot was internally consistent: each row's tokens/s sums nodes of 100..123 tokens/s.
    for (const rows of snapshots) for (const r of rows) expect(r.tokensPerSecond).toBeGreaterThanOrEqual(100 * r.onlineNodes);
    const nodes = await t.prisma.node.findMany({ include: { models: true } });
    const expected = bruteForce(
      nodes.map((n) => ({
        operator: 0,
        region: n.region,
        status: n.status,
        models: n.models.map((m) => ({ modelClass: m.modelClass, tokensPerSecond: m.tokensPerSecond })),
      })),
    );
    expect((await t.clearing.get<{ items: unknown[] }>('/v1/capacity')).body.items).toEqual(expected);
    expect(expected.reduce((n, r) => n + r.onlineNodes, 0)).toBe(16); // 24 registered, 8 drained
  }, 60_000);
});
