import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataCenter, createNode } from '../harness/capacity-factories.js';
import { createMember, expectProblem } from '../harness/factories.js';
import { wherePlaintext } from '../harness/secrets.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';
import { CapacityRepository } from '../../src/capacity/capacity.repository.js';
import { RedisThrottlerStorage } from '../../src/platform/http/redis-throttler-storage.js';

describe('node tokens: rotated at once, refused for a suspended operator (SPEC §6.2)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const heartbeat = (nodeId: string, token: string) => t.client(token).post(`/v1/nodes/${nodeId}/heartbeat`, {});

  it('POST /v1/nodes/:id/token issues a new token once; the old one is refused from the next request', async () => {
    const op = await createMember(t, 'OPERATOR');
    const node = await createNode(op, await createDataCenter(op));
    expect((await heartbeat(node.id, node.nodeToken)).status).toBe(200);

    const headers = { 'Idempotency-Key': 'rotate-1' };
    const rotated = await op.client.post<{ id: string; nodeToken: string }>(`/v1/nodes/${node.id}/token`, undefined, headers);
    expect(rotated.status, rotated.text).toBe(200);
    expect(rotated.body.nodeToken).toMatch(/^tcn_/);
    expectProblem(await heartbeat(node.id, node.nodeToken), 401, 'NODE_TOKEN_INVALID');
    expect((await heartbeat(node.id, rotated.body.nodeToken)).status).toBe(200);

    // Shown once: a replay names the node instead, and neither token is stored in clear.
    const replay = await op.client.post(`/v1/nodes/${node.id}/token`, undefined, headers);
    expectProblem(replay, 409, 'SECRET_ALREADY_ISSUED');
    expect(await wherePlaintext(t, rotated.body.nodeToken)).toEqual([]);
    expect(await wherePlaintext(t, node.nodeToken)).toEqual([]);
  });

  it("another operator cannot rotate a node's token (404), nor can clearing or a buyer (403)", async () => {
    const op = await createMember(t, 'OPERATOR');
    const other = await createMember(t, 'OPERATOR');
    const buyer = await createMember(t, 'BUYER');
    const node = await createNode(op, await createDataCenter(op));
    expectProblem(await other.client.post(`/v1/nodes/${node.id}/token`), 404, 'NOT_FOUND');
    expectProblem(await buyer.client.post(`/v1/nodes/${node.id}/token`), 403, 'FORBIDDEN_ROLE');
    expectProblem(await t.clearing.post(`/v1/nodes/${node.id}/token`), 403, 'FORBIDDEN_ROLE');
    expect((await heartbeat(node.id, node.nodeToken)).status).toBe(200);
  });

  it("a suspended operator's nodes are refused 403 MEMBER_SUSPENDED, and accepted again once reinstated", async () => {
    const op = await createMember(t, 'OPERATOR');
    const node = await createNode(op, await createDataCenter(op));
    expect((await t.clearing.patch(`/v1/members/${op.id}`, { status: 'SUSPENDED' })).status).toBe(200);
    expectProblem(await heartbeat(node.id, node.nodeToken), 403, 'MEMBER_SUSPENDED');
    expectProblem(
      await t.client(node.nodeToken).post(`/v1/nodes/${node.id}/lease`, { maxJobs: 1, waitSeconds: 0 }),
      403,
      'MEMBER_SUSPENDED',
    );
    expect((await t.clearing.patch(`/v1/members/${op.id}`, { status: 'ACTIVE' })).status).toBe(200);
    expect((await heartbeat(node.id, node.nodeToken)).status).toBe(200);
  });

  it("one node's token on another node's routes (a rival operator's, or its own operator's other node) is refused 404, the token's lookup notwithstanding", async () => {
    const op = await createMember(t, 'OPERATOR');
    const rival = await createMember(t, 'OPERATOR');
    const mine = await createNode(op, await createDataCenter(op));
    const sibling = await createNode(op, await createDataCenter(op));
    const theirs = await createNode(rival, await createDataCenter(rival));
    const completion = {
      jobId: randomUUID(),
      leaseToken: 'x'.repeat(16),
      usage: { prompt_tokens: 1, completion_tokens: 1 },
      ttftMs: 1,
      durationMs: 1,
      output: 'x',
    };
    for (const target of [sibling, theirs]) {
      const asMine = t.client(mine.nodeToken);
      expectProblem(await asMine.post(`/v1/nodes/${target.id}/lease`, { maxJobs: 1, waitSeconds: 0 }), 404, 'NOT_FOUND');
      expectProblem(await asMine.post(`/v1/nodes/${target.id}/completions`, { completions: [completion] }), 404, 'NOT_FOUND');
      expectProblem(await heartbeat(target.id, mine.nodeToken), 404, 'NOT_FOUND');
    }
    // A token that was never issued, shaped like one: refused before any route runs.
    expectProblem(await t.client(`tcn_${'A'.repeat(40)}`).post(`/v1/nodes/${mine.id}/lease`, { maxJobs: 1 }), 401, 'NODE_TOKEN_INVALID');
  });

  it("a node token's lookup starts as the request arrives: it runs beside the rate-limit counters, once", async () => {
    const op = await createMember(t, 'OPERATOR');
    const node = await createNode(op, await createDataCenter(op));
    const events: string[] = [];
    const repo = t.app.get(CapacityRepository) as { findNodeByTokenHash: CapacityRepository['findNodeByTokenHash'] };
    const storage = t.app.get(RedisThrottlerStorage);
    const lookup = repo.findNodeByTokenHash;
    const increment = storage.increment.bind(storage);
    repo.findNodeByTokenHash = (hash) => (events.push('lookup'), lookup(hash));
    storage.increment = async (...args) => {
      events.push('count');
      const out = await increment(...args);
      events.push('counted');
      return out;
    };
    try {
      expect((await heartbeat(node.id, node.nodeToken)).status).toBe(200);
    } finally {
      repo.findNodeByTokenHash = lookup;
      storage.increment = increment;
    }
    // Sent before the first counter answered (the guards run after), and not sent again by the guard.
    expect(events.filter((e) => e === 'lookup')).toHaveLength(1);
    expect(events.indexOf('lookup')).toBeLessThan(events.indexOf('counted'));
  });
});
