import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, expectProblem, type TestMember } from '../harness/factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

describe('authentication, roles and member scoping', () => {
  let t: TestApp;
  let opA: TestMember;
  let opB: TestMember;
  let buyer: TestMember;

  beforeAll(async () => {
    t = await startTestApp();
    opA = await createMember(t, 'OPERATOR');
    opB = await createMember(t, 'OPERATOR');
    buyer = await createMember(t, 'BUYER');
  });
  afterAll(() => t.close());

  it('answers 401 UNAUTHENTICATED without a key, with a malformed header, or an unknown key', async () => {
    expectProblem(await t.client().get('/v1/me'), 401, 'UNAUTHENTICATED');
    expectProblem(await t.client().get('/v1/me', { authorization: 'Basic abc' }), 401, 'UNAUTHENTICATED');
    expectProblem(await t.client('tck_' + 'x'.repeat(43)).get('/v1/me'), 401, 'UNAUTHENTICATED');
  });

  it('tells the caller who it is', async () => {
    const me = await opA.client.get('/v1/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ memberId: opA.id, role: 'operator', keyId: opA.keyId, memberKind: 'OPERATOR' });
  });

  it('records when a key was last used, at most once a minute (a hint, not a write per request)', async () => {
    const used = async () => (await t.prisma.apiKey.findUniqueOrThrow({ where: { id: opB.keyId } })).lastUsedAt;
    expect((await opB.client.get('/v1/me')).status).toBe(200);
    const first = await used();
    expect(first).toBeInstanceOf(Date);
    expect(Date.now() - first!.getTime()).toBeLessThan(60_000);
    expect((await opB.client.get('/v1/me')).status).toBe(200);
    expect(await used()).toEqual(first);
    // An hour later by the key's own record, the next request writes it again.
    await t.prisma.apiKey.update({ where: { id: opB.keyId }, data: { lastUsedAt: new Date(Date.now() - 3_600_000) } });
    expect((await opB.client.get('/v1/me')).status).toBe(200);
    expect(Date.now() - (await used())!.getTime()).toBeLessThan(60_000);
  });

  it('answers 403 FORBIDDEN_ROLE when the role may not call the route', async () => {
    expectProblem(await opA.client.post('/v1/members', { name: 'x', kind: 'BUYER' }), 403, 'FORBIDDEN_ROLE');
    expectProblem(await buyer.client.post(`/v1/members/${buyer.id}/api-keys`, { role: 'buyer' }), 403, 'FORBIDDEN_ROLE');
    expectProblem(await opA.client.patch(`/v1/members/${opA.id}`, { status: 'SUSPENDED' }), 403, 'FORBIDDEN_ROLE');
  });

  it("answers 404 for another member's resources, never leaking that they exist", async () => {
    expectProblem(await opA.client.get(`/v1/members/${opB.id}`), 404, 'NOT_FOUND');
    expectProblem(await opA.client.get(`/v1/members/${opB.id}/api-keys`), 404, 'NOT_FOUND');
    expectProblem(await opA.client.delete(`/v1/api-keys/${opB.keyId}`), 404, 'NOT_FOUND');
    // The same answer as for an id that does not exist at all.
    const missing = await opA.client.get('/v1/members/00000000-0000-4000-8000-000000000000');
    expectProblem(missing, 404, 'NOT_FOUND');
    expect((await opA.client.get(`/v1/members/${opA.id}`)).status).toBe(200);
    expect((await t.clearing.get(`/v1/members/${opB.id}`)).status).toBe(200);
  });

  it('lists only the caller itself to a member, everyone to clearing staff (cursor-paginated)', async () => {
    const own = await opA.client.get<{ items: { id: string }[] }>('/v1/members');
    expect(own.body.items.map((m) => m.id)).toEqual([opA.id]);
    const first = await t.clearing.get<{ items: { id: string }[]; nextCursor: string }>('/v1/members?limit=2');
    expect(first.body.items).toHaveLength(2);
    const second = await t.clearing.get<{ items: { id: string }[]; nextCursor: string | null }>(
      `/v1/members?limit=2&cursor=${first.body.nextCursor}`,
    );
    const all = [...first.body.items, ...second.body.items].map((m) => m.id);
    expect(new Set(all).size).toBe(4); // clearing house + 3 members
    expect(all).toEqual(expect.arrayContaining([t.clearingMemberId, opA.id, opB.id, buyer.id]));
  });

  it('refuses a key whose role does not fit the member kind', async () => {
    expectProblem(await t.clearing.post(`/v1/members/${opA.id}/api-keys`, { role: 'clearing' }), 409, 'ROLE_KIND_MISMATCH');
    expectProblem(await t.clearing.post(`/v1/members/${buyer.id}/api-keys`, { role: 'operator' }), 409, 'ROLE_KIND_MISMATCH');
  });

  it('stores keys only as hashes and shows them once', async () => {
    const created = await t.clearing.post<{ id: string; key: string }>(`/v1/members/${opA.id}/api-keys`, { role: 'operator', label: 'ci' });
    expect(created.body.key).toMatch(/^tck_[A-Za-z0-9_-]{43}$/);
    const row = await t.prisma.apiKey.findUniqueOrThrow({ where: { id: created.body.id } });
    expect(row.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(created.body.key);
    const listed = await opA.client.get<{ items: Record<string, unknown>[] }>(`/v1/members/${opA.id}/api-keys`);
    expect(listed.text).not.toContain(created.body.key);
    expect(listed.body.items.every((k) => !('key' in k) && !('hash' in k))).toBe(true);
  });

  it('answers 401 API_KEY_REVOKED for a revoked key; a member may revoke its own key', async () => {
    const extra = await t.clearing.post<{ id: string; key: string }>(`/v1/members/${opA.id}/api-keys`, { role: 'operator' });
    const client = t.client(extra.body.key);
    expect((await client.get('/v1/me')).status).toBe(200);
    const revoked = await opA.client.delete<{ revokedAt: string }>(`/v1/api-keys/${extra.body.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    expectProblem(await client.get('/v1/me'), 401, 'API_KEY_REVOKED');
  });

  it('suspending a member makes its keys fail with 403 MEMBER_SUSPENDED until reactivated', async () => {
    const suspended = await t.clearing.patch(`/v1/members/${opB.id}`, { status: 'SUSPENDED' });
    expect(suspended.status).toBe(200);
    expectProblem(await opB.client.get('/v1/me'), 403, 'MEMBER_SUSPENDED');
    await t.clearing.patch(`/v1/members/${opB.id}`, { status: 'ACTIVE' });
    expect((await opB.client.get('/v1/me')).status).toBe(200);
  });

  it('rejects bad input with problem+json listing every field, and writes nothing', async () => {
    const before = await t.prisma.member.count();
    const res = await t.clearing.post<{ errors: { field: string }[] }>('/v1/members', { name: '', kind: 'CLEARING', extra: true });
    expectProblem(res, 400, 'VALIDATION_FAILED');
    expect(new Set(res.body.errors.map((e) => e.field))).toEqual(new Set(['extra', 'kind', 'name']));
    expectProblem(await t.clearing.post('/v1/members', '{"name": "x",'), 400, 'MALFORMED_JSON');
    expectProblem(await t.clearing.get('/v1/no-such-route'), 404, 'ROUTE_NOT_FOUND');
    expect(await t.prisma.member.count()).toBe(before);
  });

  it('audits every state-changing request, successes and failures, append-only', async () => {
    const created = await t.clearing.post<{ id: string }>(
      '/v1/members',
      { name: 'Audited Co', kind: 'TRADER' },
      { 'idempotency-key': 'audit-1' },
    );
    const success = await t.prisma.auditEvent.findFirstOrThrow({ where: { targetId: created.body.id } });
    expect(success).toMatchObject({
      action: 'member.create',
      outcome: 'SUCCESS',
      actorMemberId: t.clearingMemberId,
      role: 'clearing',
      idempotencyKey: 'audit-1',
      requestId: created.headers.get('x-request-id'),
    });
    await opA.client.post('/v1/members', { name: 'nope', kind: 'BUYER' });
    const failure = await t.prisma.auditEvent.findFirstOrThrow({ where: { actorMemberId: opA.id, outcome: 'FAILURE' } });
    expect(failure).toMatchObject({ errorCode: 'FORBIDDEN_ROLE', httpStatus: 403 });
    await expect(t.prisma.$executeRaw`UPDATE audit_events SET action = 'forged'`).rejects.toThrow(/append-only/);
    await expect(t.prisma.$executeRaw`DELETE FROM audit_events`).rejects.toThrow(/append-only/);
  });
});
