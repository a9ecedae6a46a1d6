import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CapacityViewService } from '../../src/capacity/capacity-view.service.js';
import { CapacityEvents, type NodeWentOffline } from '../../src/capacity/capacity.events.js';
import { NodeSweepHandler } from '../../src/capacity/node-sweep.handler.js';
import { createDataCenter, createNode, type TestNode } from '../harness/capacity-factories.js';
import { createMember, expectProblem, type TestMember } from '../harness/factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

describe('capacity registry', () => {
  let t: TestApp;
  let opA: TestMember;
  let opB: TestMember;
  let buyer: TestMember;
  let dcA: string;
  let nodeA: TestNode;
  let nodeB: TestNode;

  beforeAll(async () => {
    t = await startTestApp({ env: { HEARTBEAT_INTERVAL_MS: '3600000' } });
    opA = await createMember(t, 'OPERATOR');
    opB = await createMember(t, 'OPERATOR');
    buyer = await createMember(t, 'BUYER');
    dcA = await createDataCenter(opA, 'cn-east-1');
    nodeA = await createNode(opA, dcA);
    nodeB = await createNode(opB, await createDataCenter(opB, 'cn-north-1'));
  });
  afterAll(() => t.close());

  const heartbeat = (n: TestNode, token = n.nodeToken, body: unknown = {}) =>
    t.client().post(`/v1/nodes/${n.id}/heartbeat`, body, { authorization: `Bearer ${token}` });

  it('registers a node OFFLINE with a node token shown once and stored hashed', async () => {
    const view = await opA.client.get<{ status: string; models: unknown[] }>(`/v1/nodes/${nodeA.id}`);
    expect(view.body).toMatchObject({ status: 'OFFLINE', region: 'cn-east-1', gpuModel: 'H800', gpuCount: 8, operatorId: opA.id });
    expect(view.text).not.toContain(nodeA.nodeToken);
    expect(nodeA.nodeToken).toMatch(/^tcn_[A-Za-z0-9_-]{43}$/);
    const row = await t.prisma.node.findUniqueOrThrow({ where: { id: nodeA.id } });
    expect(row.tokenHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('heartbeats with the node token bring the node ONLINE; the token works for its own node only', async () => {
    const res = await heartbeat(nodeA, nodeA.nodeToken, { load: 40 });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ status: 'ONLINE' });
    expect((await opA.client.get(`/v1/nodes/${nodeA.id}`)).body).toMatchObject({ status: 'ONLINE', load: 40 });
    expectProblem(await heartbeat(nodeB, nodeA.nodeToken), 404, 'NOT_FOUND');
    expectProblem(await heartbeat(nodeA, opA.key), 401, 'NODE_TOKEN_INVALID');
    expectProblem(await heartbeat(nodeA, 'tcn_' + 'x'.repeat(43)), 401, 'NODE_TOKEN_INVALID');
    expectProblem(await t.client().post(`/v1/nodes/${nodeA.id}/heartbeat`, {}), 401, 'NODE_TOKEN_INVALID');
    // A node token is not an API key.
    expectProblem(await t.client(nodeA.nodeToken).get('/v1/me'), 401, 'UNAUTHENTICATED');
    // Heartbeats are telemetry on the node row, not audit history.
    expect(await t.prisma.auditEvent.count({ where: { action: { contains: 'heartbeat' }, outcome: 'SUCCESS' } })).toBe(0);
  });

  it('role and ownership matrix of every capacity endpoint', async () => {
    // operator B vs operator A's resources
    expectProblem(await opB.client.get(`/v1/nodes/${nodeA.id}`), 404, 'NOT_FOUND');
    expectProblem(await opB.client.patch(`/v1/nodes/${nodeA.id}`, { status: 'DRAINING' }), 404, 'NOT_FOUND');
    expectProblem(
      await opB.client.post('/v1/nodes', {
        dataCenterId: dcA,
        gpuModel: 'H800',
        gpuCount: 1,
        models: [{ modelClass: 'llm-8b-instruct', tokensPerSecond: 1 }],
      }),
      404,
      'NOT_FOUND',
    );
    const listB = await opB.client.get<{ items: { id: string }[] }>('/v1/nodes');
    expect(listB.body.items.map((n) => n.id)).toEqual([nodeB.id]);
    const dcsB = await opB.client.get<{ items: { id: string }[] }>('/v1/datacenters');
    expect(dcsB.body.items.map((d) => d.id)).not.toContain(dcA);
    // a buyer registers nothing and sees no fleet, only the aggregate
    expectProblem(await buyer.client.post('/v1/datacenters', { name: 'x', region: 'cn-east-1' }), 403, 'FORBIDDEN_ROLE');
    expectProblem(
      await buyer.client.post('/v1/nodes', { dataCenterId: dcA, gpuModel: 'H800', gpuCount: 1, models: [] }),
      403,
      'FORBIDDEN_ROLE',
    );
    expectProblem(await buyer.client.get('/v1/nodes'), 403, 'FORBIDDEN_ROLE');
    expectProblem(await buyer.client.get(`/v1/nodes/${nodeA.id}`), 403, 'FORBIDDEN_ROLE');
    expectProblem(await buyer.client.patch(`/v1/nodes/${nodeA.id}`, { status: 'DRAINING' }), 403, 'FORBIDDEN_ROLE');
    expect((await buyer.client.get('/v1/capacity')).status).toBe(200);
    // clearing staff read everything and register nothing
    const all = await t.clearing.get<{ items: { id: string }[] }>('/v1/nodes');
    expect(all.body.items.map((n) => n.id).sort()).toEqual([nodeA.id, nodeB.id].sort());
    expect((await t.clearing.get(`/v1/nodes/${nodeA.id}`)).status).toBe(200);
    expectProblem(await t.clearing.post('/v1/datacenters', { name: 'x', region: 'cn-east-1' }), 403, 'FORBIDDEN_ROLE');
    expectProblem(await t.clearing.patch(`/v1/nodes/${nodeA.id}`, { status: 'DRAINING' }), 403, 'FORBIDDEN_ROLE');
    // without any credential
    expectProblem(await t.client().get('/v1/capacity'), 401, 'UNAUTHENTICATED');
  });

  it.each([
    ['/v1/datacenters', { name: '', region: 'cn-east-1' }, 'VALIDATION_FAILED'],
    ['/v1/datacenters', { name: 'x'.repeat(201), region: 'cn-east-1' }, 'VALIDATION_FAILED'],
    ['/v1/datacenters', { name: 'ok', region: 'us-east-1' }, 'UNKNOWN_REGION'],
    ['/v1/datacenters', { name: 'ok', region: 7 }, 'VALIDATION_FAILED'],
    ['/v1/datacenters', { name: 'ok' }, 'VALIDATION_FAILED'],
    [
      '/v1/nodes',
      { dataCenterId: 'not-a-uuid', gpuModel: 'H800', gpuCount: 1, models: [{ modelClass: 'llm-8b-instruct', tokensPerSecond: 1 }] },
      'VALIDATION_FAILED',
    ],
    ['/v1/nodes', { gpuModel: 'H800', gpuCount: 0, models: [{ modelClass: 'llm-8b-instruct', tokensPerSecond: 1 }] }, 'VALIDATION_FAILED'],
    [
      '/v1/nodes',
      { gpuModel: 'H800', gpuCount: 1.5, models: [{ modelClass: 'llm-8b-instruct', tokensPerSecond: 1 }] },
      'VALIDATION_FAILED',
    ],
    ['/v1/nodes', { gpuModel: '', gpuCount: 1, models: [{ modelClass: 'llm-8b-instruct', tokensPerSecond: 1 }] }, 'VALIDATION_FAILED'],
    ['/v1/nodes', { gpuModel: 'H800', gpuCount: 1, models: [] }, 'VALIDATION_FAILED'],
    ['/v1/nodes', { gpuModel: 'H800', gpuCount: 1, models: [{ modelClass: 'llm-8b-instruct', tokensPerSecond: 0 }] }, 'VALIDATION_FAILED'],
    ['/v1/nodes', { gpuModel: 'H800', gpuCount: 1, models: [{ modelClass: 'llm-8b-instruct', tokensPerSecond: -5 }] }, 'VALIDATION_FAILED'],
    [
      '/v1/nodes',
      { gpuModel: 'H800', gpuCount: 1, models: [{ modelClass: 'llm-8b-instruct', tokensPerSecond: '100' }] },
      'VALIDATION_FAILED',
    ],
    ['/v1/nodes', { gpuModel: 'H800', gpuCount: 1, models: [{ modelClass: 'gpt-x', tokensPerSecond: 100 }] }, 'UNKNOWN_MODEL_CLASS'],
    [
      '/v1/nodes',
      {
        gpuModel: 'H800',
        gpuCount: 1,
        models: [
          { modelClass: 'llm-8b-instruct', tokensPerSecond: 1 },
          { modelClass: 'llm-8b-instruct', tokensPerSecond: 2 },
        ],
      },
      'DUPLICATE_MODEL_CLASS',
    ],
  ])('POST %s %j → 400 %s, nothing written', async (path, body, code) => {
    const before = [await t.prisma.dataCenter.count(), await t.prisma.node.count(), await t.prisma.nodeModel.count()];
    const payload = path === '/v1/nodes' && !('dataCenterId' in body) ? { dataCenterId: dcA, ...body } : body;
    expectProblem(await opA.client.post(path, payload), 400, code);
    expect([await t.prisma.dataCenter.count(), await t.prisma.node.count(), await t.prisma.nodeModel.count()]).toEqual(before);
  });

  it('refuses a second data center of the same name for one operator', async () => {
    await opA.client.post('/v1/datacenters', { name: 'dup', region: 'cn-west-1' });
    expectProblem(await opA.client.post('/v1/datacenters', { name: 'dup', region: 'cn-west-1' }), 409, 'DATA_CENTER_NAME_TAKEN');
    expect((await opB.client.post('/v1/datacenters', { name: 'dup', region: 'cn-west-1' })).status).toBe(201);
  });

  it('lets the operator drain a node and change its capacity; OFFLINE comes back only by heartbeat', async () => {
    const drained = await opA.client.patch(`/v1/nodes/${nodeA.id}`, {
      status: 'DRAINING',
      models: [{ modelClass: 'llm-8b-instruct', tokensPerSecond: 5000 }],
    });
    expect(drained.body).toMatchObject({ status: 'DRAINING', models: [{ modelClass: 'llm-8b-instruct', tokensPerSecond: 5000 }] });
    expect((await heartbeat(nodeA)).body).toMatchObject({ status: 'DRAINING' });
    expect(
      (
        await opA.client.patch(`/v1/nodes/${nodeA.id}`, {
          status: 'ONLINE',
          models: [{ modelClass: 'llm-70b-instruct', tokensPerSecond: 1000 }],
        })
      ).body,
    ).toMatchObject({ status: 'ONLINE' });
    expectProblem(await opB.client.patch(`/v1/nodes/${nodeB.id}`, { status: 'ONLINE' }), 409, 'NODE_OFFLINE');
  });

  it('sweeps silent nodes OFFLINE once each and tells the delivery side', async () => {
    const events: NodeWentOffline[] = [];
    const sub = t.app.get(CapacityEvents).nodeOffline.subscribe((e) => events.push(e));
    await t.prisma.node.update({ where: { id: nodeA.id }, data: { lastHeartbeatAt: new Date(Date.now() - 2 * 3600_000 * 3) } });
    const sweep = t.app.get(NodeSweepHandler);
    expect(await sweep.sweep()).toEqual({ offline: 1 });
    expect(await sweep.sweep()).toEqual({ offline: 0 });
    sub.unsubscribe();
    expect(events.map((e) => e.nodeId)).toEqual([nodeA.id]);
    expect((await opA.client.get(`/v1/nodes/${nodeA.id}`)).body).toMatchObject({ status: 'OFFLINE' });
    expect((await heartbeat(nodeA)).body).toMatchObject({ status: 'ONLINE' });
  });

  it('computes the capacity-backed selling limit: tokens/s × window × utilisation, non-OFFLINE nodes only', async () => {
    const op = await createMember(t, 'OPERATOR');
    const dc = await createDataCenter(op, 'cn-south-1');
    const n1 = await createNode(op, dc, [
      { modelClass: 'llm-70b-instruct', tokensPerSecond: 1000 },
      { modelClass: 'llm-8b-instruct', tokensPerSecond: 9000 },
    ]);
    const n2 = await createNode(op, dc, [{ modelClass: 'llm-70b-instruct', tokensPerSecond: 500 }]);
    await createNode(op, dc, [{ modelClass: 'llm-70b-instruct', tokensPerSecond: 700 }]); // never heartbeats: OFFLINE
    await heartbeat(n1);
    await heartbeat(n2);
    await op.client.patch(`/v1/nodes/${n2.id}`, { status: 'DRAINING' }); // draining still backs sales
    const view = t.app.get(CapacityViewService);
    const window = { start: new Date('2026-12-01T00:00:00Z'), end: new Date('2026-12-02T00:00:00Z') }; // 86,400 s
    // (1000 + 500) tokens/s × 86,400 s × 0.8 = 103,680,000
    expect(await view.deliverableTokens(op.id, 'llm-70b-instruct', window)).toBe(103_680_000n);
    expect(await view.deliverableTokens(op.id, 'llm-70b-instruct', window, ['cn-east-1'])).toBe(0n);
    expect(await view.deliverableTokens(op.id, 'llm-400b-moe', window)).toBe(0n);
  });

  it('aggregates online capacity per model class and region, with committed and available tokens/s', async () => {
    const res = await buyer.client.get<{ items: Record<string, unknown>[] }>('/v1/capacity?modelClass=llm-8b-instruct');
    expect(res.body.items).toEqual([
      {
        modelClass: 'llm-8b-instruct',
        region: 'cn-south-1',
        onlineNodes: 1,
        tokensPerSecond: 9000,
        committedTokensPerSecond: 0,
        availableTokensPerSecond: 9000,
      },
    ]);
    expectProblem(await buyer.client.get('/v1/capacity?region=mars-1'), 400, 'UNKNOWN_REGION');
    expectProblem(await buyer.client.get('/v1/capacity?modelClass=gpt-x'), 400, 'UNKNOWN_MODEL_CLASS');
  });
});
