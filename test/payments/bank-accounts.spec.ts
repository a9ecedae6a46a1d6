import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClearingUser, createMember, expectProblem, verifiedBankAccount, type TestMember } from '../harness/factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

interface Account {
  id: string;
  memberId: string;
  bankCode: string;
  accountNumber: string;
  holderName: string;
  status: string;
  proposedByStaffId: string | null;
  decidedByStaffId: string | null;
}

describe('member bank accounts (SPEC §6.5): four eyes by person, withdrawals only to a verified account', () => {
  let t: TestApp;
  let m: TestMember;
  let other: TestMember;
  let second: TestMember & { staffId: string };
  let firstStaffId: string;
  const valid = { bankCode: '102100099996', accountNumber: '6222020200112233445', holderName: 'Beijing Inference Trading Co.' };

  beforeAll(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'error' } });
    m = await createMember(t, 'TRADER');
    other = await createMember(t, 'BUYER');
    second = await createClearingUser(t, 'Second Person');
    firstStaffId = (
      await t.prisma.apiKey.findUniqueOrThrow({ where: { id: (await t.clearing.get<{ keyId: string }>('/v1/me')).body.keyId } })
    ).staffId!;
    await t.clearing.post(`/v1/members/${m.id}/deposits`, { amount: '100.00', currency: 'CNY', reference: 'BA-DEP-1' });
  });
  afterAll(() => t.close());

  it('a member without a verified account cannot withdraw: 409 NO_VERIFIED_BANK_ACCOUNT, nothing held', async () => {
    const withdraw = () => m.client.post(`/v1/members/${m.id}/withdrawals`, { amount: '10.00', currency: 'CNY' });
    expectProblem(await withdraw(), 409, 'NO_VERIFIED_BANK_ACCOUNT');
    // A pending account is not verified either.
    const pending = await m.client.post<Account>(`/v1/members/${m.id}/bank-accounts`, valid);
    expect(pending.status, pending.text).toBe(201);
    expect(pending.body).toMatchObject({ ...valid, memberId: m.id, status: 'PENDING', proposedByStaffId: null });
    expectProblem(await withdraw(), 409, 'NO_VERIFIED_BANK_ACCOUNT');
    expect(await t.prisma.withdrawal.count({ where: { memberId: m.id } })).toBe(0);
    expect((await t.clearing.get<{ cash: string; pending: string }>(`/v1/members/${m.id}/balances`)).body).toMatchObject({
      cash: '100.00',
      pending: '0.00',
    });
  });

  it('validates the CNAPS code, the account number and the holder name', async () => {
    const post = (body: object) => m.client.post(`/v1/members/${m.id}/bank-accounts`, { ...valid, ...body });
    expectProblem(await post({ bankCode: '10210009999' }), 400, 'VALIDATION_FAILED');
    expectProblem(await post({ bankCode: '10210009999X' }), 400, 'VALIDATION_FAILED');
    expectProblem(await post({ accountNumber: '1'.repeat(35) }), 400, 'VALIDATION_FAILED');
    expectProblem(await post({ accountNumber: '6222 0202' }), 400, 'VALIDATION_FAILED');
    expectProblem(await post({ holderName: 'x'.repeat(141) }), 400, 'VALIDATION_FAILED');
    expectProblem(await post({ holderName: 'line\nbreak' }), 400, 'VALIDATION_FAILED');
    expect((await post({ accountNumber: '1'.repeat(34), holderName: '北京推理交易有限公司' })).status).toBe(201);
  });

  it('another member sees 404; only clearing decides', async () => {
    expectProblem(await other.client.post(`/v1/members/${m.id}/bank-accounts`, valid), 404, 'NOT_FOUND');
    expectProblem(await other.client.get(`/v1/members/${m.id}/bank-accounts`), 404, 'NOT_FOUND');
    const mine = await m.client.get<{ items: Account[] }>(`/v1/members/${m.id}/bank-accounts`);
    expect(mine.status).toBe(200);
    expect(mine.body.items.length).toBeGreaterThan(0);
    expect(mine.body.items.every((a) => a.memberId === m.id)).toBe(true);
    expectProblem(await m.client.post(`/v1/bank-accounts/${mine.body.items[0].id}/approve`), 403, 'FORBIDDEN_ROLE');
    expectProblem(await t.clearing.post('/v1/bank-accounts/not-a-uuid/approve'), 400, 'INVALID_ID');
    expectProblem(await t.clearing.post(`/v1/bank-accounts/${crypto.randomUUID()}/approve`), 404, 'NOT_FOUND');
  });

  it('proposed by a clearing person: that person cannot approve or reject, not even with a second key of their own', async () => {
    const proposed = await t.clearing.post<Account>(`/v1/members/${m.id}/bank-accounts`, { ...valid, accountNumber: '9558800200112233' });
    expect(proposed.status, proposed.text).toBe(201);
    expect(proposed.body).toMatchObject({ status: 'PENDING', proposedByStaffId: firstStaffId });
    expectProblem(await t.clearing.post(`/v1/bank-accounts/${proposed.body.id}/approve`), 409, 'SELF_APPROVAL');
    expectProblem(await t.clearing.post(`/v1/bank-accounts/${proposed.body.id}/reject`), 409, 'SELF_APPROVAL');
    const ownSecondKey = await t.clearing.post<{ key: string }>(`/v1/members/${t.clearingMemberId}/api-keys`, {
      role: 'clearing',
      label: 'laptop',
    });
    expect(ownSecondKey.status, ownSecondKey.text).toBe(201);
    expectProblem(await t.client(ownSecondKey.body.key).post(`/v1/bank-accounts/${proposed.body.id}/approve`), 409, 'SELF_APPROVAL');
    expect((await t.prisma.bankAccount.findUniqueOrThrow({ where: { id: proposed.body.id } })).status).toBe('PENDING');

    const approved = await second.client.post<Account>(`/v1/bank-accounts/${proposed.body.id}/approve`);
    expect(approved.status, approved.text).toBe(200);
    expect(approved.body).toMatchObject({ status: 'VERIFIED', decidedByStaffId: second.staffId });
    expectProblem(await second.client.post(`/v1/bank-accounts/${proposed.body.id}/reject`), 409, 'BANK_ACCOUNT_NOT_PENDING');
    const audit = async () =>
      (await t.prisma.auditEvent.findMany({ where: { targetId: proposed.body.id }, orderBy: { seq: 'asc' } })).map(
        (a) => `${a.action}:${a.outcome}`,
      );
    await expect
      .poll(audit)
      .toEqual([
        'bank-account.approve:FAILURE',
        'bank-account.reject:FAILURE',
        'bank-account.approve:FAILURE',
        'bank-account.approve:SUCCESS',
        'bank-account.reject:FAILURE',
      ]);

    // Now the member can withdraw, and the withdrawal records the account it pays to.
    const w = await m.client.post<{ id: string }>(`/v1/members/${m.id}/withdrawals`, { amount: '10.00', currency: 'CNY' });
    expect(w.status, w.text).toBe(201);
    expect((await t.prisma.withdrawal.findUniqueOrThrow({ where: { id: w.body.id } })).bankAccountId).toBe(proposed.body.id);
  });

  it("a member's own proposal is approved or rejected by any clearing person, who is recorded", async () => {
    const a = await m.client.post<Account>(`/v1/members/${m.id}/bank-accounts`, { ...valid, accountNumber: 'ACC0001' });
    const rejected = await t.clearing.post<Account>(`/v1/bank-accounts/${a.body.id}/reject`, { reason: 'holder name does not match' });
    expect(rejected.status, rejected.text).toBe(200);
    expect(rejected.body).toMatchObject({ status: 'REJECTED', decidedByStaffId: firstStaffId });
    const b = await verifiedBankAccount(t, other);
    const row = await t.prisma.bankAccount.findUniqueOrThrow({ where: { id: b.id } });
    expect(row).toMatchObject({ status: 'VERIFIED', proposedByStaffId: null, decidedByStaffId: firstStaffId });
  });

  it('the OpenAPI document shows the bank routes', async () => {
    const doc = await t.client().get<{ paths: Record<string, Record<string, unknown>> }>('/openapi.json');
    expect(doc.status).toBe(200);
    const routes = Object.entries(doc.body.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /v1/members/{id}/bank-accounts',
        'GET /v1/members/{id}/bank-accounts',
        'POST /v1/bank-accounts/{id}/approve',
        'POST /v1/bank-accounts/{id}/reject',
        'GET /v1/payment-instructions',
        'POST /v1/bank-statements',
        'POST /v1/payment-status-reports',
      ]),
    );
  });

  it('lists newest first, a page at a time; clearing sees every member', async () => {
    const all = await t.clearing.get<{ items: Account[] }>(`/v1/members/${m.id}/bank-accounts?limit=500`);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { items: Account[]; nextCursor: string | null } } = await m.client.get(
        `/v1/members/${m.id}/bank-accounts?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((x) => x.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.body.items.map((x) => x.id));
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(await t.prisma.bankAccount.count({ where: { memberId: m.id } }));
  });
});
