import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClearingUser, createMember, expectProblem, type TestMember } from '../harness/factories.js';
import { wherePlaintext } from '../harness/secrets.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

interface StaffRow {
  id: string;
  name: string;
  status: string;
  proposedBy: string | null;
  decidedBy: string | null;
}

describe('staff are people (SPEC §6.2)', () => {
  let t: TestApp;
  let b: TestMember & { staffId: string };

  beforeAll(async () => {
    t = await startTestApp();
    b = await createClearingUser(t, 'Second Person');
  });
  afterAll(() => t.close());

  it('a new person is proposed by one person and approved by another; only the approval issues the first key, once', async () => {
    const proposed = await t.clearing.post<StaffRow>('/v1/staff', { name: 'Li Wei' });
    expect(proposed.status, proposed.text).toBe(201);
    expect(proposed.body).toMatchObject({ name: 'Li Wei', status: 'PENDING' });
    expect(proposed.body).not.toHaveProperty('key');

    // The proposer cannot approve, not even with a second key of their own.
    expectProblem(await t.clearing.post(`/v1/staff/${proposed.body.id}/approve`), 409, 'SELF_APPROVAL');
    const ownSecondKey = await t.clearing.post<{ key: string }>(`/v1/members/${t.clearingMemberId}/api-keys`, {
      role: 'clearing',
      label: 'laptop',
    });
    expect(ownSecondKey.status).toBe(201);
    expectProblem(await t.client(ownSecondKey.body.key).post(`/v1/staff/${proposed.body.id}/approve`), 409, 'SELF_APPROVAL');

    const approved = await b.client.post<StaffRow & { key: string; keyId: string }>(`/v1/staff/${proposed.body.id}/approve`, undefined, {
      'Idempotency-Key': 'approve-li-wei',
    });
    expect(approved.status, approved.text).toBe(200);
    expect(approved.body).toMatchObject({ status: 'ACTIVE', decidedBy: b.staffId });
    expect(approved.body.key).toMatch(/^tck_/);
    const me = await t.client(approved.body.key).get<{ role: string; keyId: string }>('/v1/me');
    expect(me.body).toMatchObject({ role: 'clearing', keyId: approved.body.keyId });

    // Decided once; a replay of the approval does not show the key again, and it is nowhere in clear.
    expectProblem(await b.client.post(`/v1/staff/${proposed.body.id}/approve`), 409, 'STAFF_NOT_PENDING');
    const replay = await b.client.post<{ resource: string; id: string }>(`/v1/staff/${proposed.body.id}/approve`, undefined, {
      'Idempotency-Key': 'approve-li-wei',
    });
    expectProblem(replay, 409, 'SECRET_ALREADY_ISSUED');
    expect(replay.body).toMatchObject({ resource: 'staff', id: proposed.body.id });
    expect(await wherePlaintext(t, approved.body.key)).toEqual([]);

    const list = await t.clearing.get<{ items: StaffRow[]; nextCursor: string | null }>('/v1/staff?limit=500');
    expect(list.body.items.map((s) => s.name)).toEqual(expect.arrayContaining(['Li Wei', 'Second Person', 'bootstrap']));
  });

  it('a rejected proposal issues nothing; members cannot touch staff', async () => {
    const proposed = await b.client.post<StaffRow>('/v1/staff', { name: 'Not Hired' });
    const rejected = await t.clearing.post<StaffRow>(`/v1/staff/${proposed.body.id}/reject`);
    expect(rejected.body).toMatchObject({ status: 'REJECTED' });
    expectProblem(await t.clearing.post(`/v1/staff/${proposed.body.id}/approve`), 409, 'STAFF_NOT_PENDING');
    const op = await createMember(t, 'OPERATOR');
    expectProblem(await op.client.post('/v1/staff', { name: 'Me Myself' }), 403, 'FORBIDDEN_ROLE');
    expectProblem(await op.client.get('/v1/staff'), 403, 'FORBIDDEN_ROLE');
  });

  it('a replayed key creation answers 409 SECRET_ALREADY_ISSUED and the key is stored only as its hash', async () => {
    const op = await createMember(t, 'OPERATOR');
    const headers = { 'Idempotency-Key': 'op-key-1' };
    const first = await t.clearing.post<{ id: string; key: string }>(`/v1/members/${op.id}/api-keys`, { role: 'operator' }, headers);
    expect(first.status).toBe(201);
    const again = await t.clearing.post<{ id: string }>(`/v1/members/${op.id}/api-keys`, { role: 'operator' }, headers);
    expectProblem(again, 409, 'SECRET_ALREADY_ISSUED');
    expect(again.body).toMatchObject({ resource: 'api-key', id: first.body.id });
    expect(await wherePlaintext(t, first.body.key)).toEqual([]);
    expect(await wherePlaintext(t, first.body.key.slice(4))).toEqual([]);
  });
});
