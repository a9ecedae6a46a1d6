import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, expectProblem } from '../harness/factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

describe('Idempotency-Key', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('replays the first response byte for byte and moves nothing twice', async () => {
    const body = { name: 'Replay Co', kind: 'BUYER' };
    const first = await t.clearing.post('/v1/members', body, { 'idempotency-key': 'replay-1' });
    const second = await t.clearing.post('/v1/members', body, { 'idempotency-key': 'replay-1' });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.text).toBe(first.text);
    expect(second.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await t.prisma.member.count({ where: { name: 'Replay Co' } })).toBe(1);
  });

  it('treats a re-ordered but equal JSON body as the same request', async () => {
    const a = await t.clearing.post('/v1/members', { name: 'Order Co', kind: 'TRADER' }, { 'idempotency-key': 'order-1' });
    const b = await t.clearing.post('/v1/members', { kind: 'TRADER', name: 'Order Co' }, { 'idempotency-key': 'order-1' });
    expect(b.text).toBe(a.text);
  });

  it('runs 10 parallel identical requests once', async () => {
    const body = { name: 'Parallel Co', kind: 'OPERATOR' };
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => t.clearing.post('/v1/members', body, { 'idempotency-key': 'parallel-1' })),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(201));
    expect(new Set(responses.map((r) => r.text)).size).toBe(1);
    expect(await t.prisma.member.count({ where: { name: 'Parallel Co' } })).toBe(1);
    expect(await t.prisma.auditEvent.count({ where: { idempotencyKey: 'parallel-1', outcome: 'SUCCESS' } })).toBe(1);
  });

  it('answers 409 IDEMPOTENCY_KEY_REUSED for the same key with another body, changing nothing', async () => {
    await t.clearing.post('/v1/members', { name: 'Reuse Co', kind: 'BUYER' }, { 'idempotency-key': 'reuse-1' });
    const res = await t.clearing.post('/v1/members', { name: 'Other Co', kind: 'BUYER' }, { 'idempotency-key': 'reuse-1' });
    expectProblem(res, 409, 'IDEMPOTENCY_KEY_REUSED');
    expect(await t.prisma.member.count({ where: { name: 'Other Co' } })).toBe(0);
  });

  it('replays a 4xx answer too, and scopes keys per member', async () => {
    const op = await createMember(t, 'OPERATOR');
    const bad = await t.clearing.post(`/v1/members/${op.id}/api-keys`, { role: 'buyer' }, { 'idempotency-key': 'k-1' });
    expectProblem(bad, 409, 'ROLE_KIND_MISMATCH');
    const again = await t.clearing.post(`/v1/members/${op.id}/api-keys`, { role: 'buyer' }, { 'idempotency-key': 'k-1' });
    expect(again.text).toBe(bad.text);
    // Another member using the same key text is a different request altogether.
    const other = await op.client.delete(`/v1/api-keys/${op.keyId}`, { 'idempotency-key': 'k-1' });
    expect(other.status).toBe(200);
  });

  it('answers 409 IDEMPOTENCY_IN_PROGRESS while the first is still running past the wait', async () => {
    // A claim left by a request still in flight (lease not expired).
    await t.prisma.idempotencyRecord.create({
      data: {
        memberId: t.clearingMemberId,
        key: 'busy-1',
        method: 'POST',
        path: '/v1/members',
        fingerprint: (await import('../../src/platform/idempotency/fingerprint.js')).requestFingerprint('POST', '/v1/members', {
          name: 'Busy Co',
          kind: 'BUYER',
        }),
        lockedUntil: new Date(Date.now() + 60_000),
      },
    });
    const res = await t.clearing.post('/v1/members', { name: 'Busy Co', kind: 'BUYER' }, { 'idempotency-key': 'busy-1' });
    expectProblem(res, 409, 'IDEMPOTENCY_IN_PROGRESS');
    expect(await t.prisma.member.count({ where: { name: 'Busy Co' } })).toBe(0);
  }, 20_000);

  it('lets a retry take over a claim abandoned by a crashed request', async () => {
    const { requestFingerprint } = await import('../../src/platform/idempotency/fingerprint.js');
    await t.prisma.idempotencyRecord.create({
      data: {
        memberId: t.clearingMemberId,
        key: 'crashed-1',
        method: 'POST',
        path: '/v1/members',
        fingerprint: requestFingerprint('POST', '/v1/members', { name: 'Crash Co', kind: 'BUYER' }),
        lockedUntil: new Date(Date.now() - 1_000),
      },
    });
    const res = await t.clearing.post('/v1/members', { name: 'Crash Co', kind: 'BUYER' }, { 'idempotency-key': 'crashed-1' });
    expect(res.status).toBe(201);
    expect(await t.prisma.member.count({ where: { name: 'Crash Co' } })).toBe(1);
  });

  it('rejects a malformed key', async () => {
    const res = await t.clearing.post('/v1/members', { name: 'K', kind: 'BUYER' }, { 'idempotency-key': 'x'.repeat(300) });
    expectProblem(res, 400, 'INVALID_IDEMPOTENCY_KEY');
  });
});
