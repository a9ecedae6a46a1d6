import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClearingUser, createMember, expectProblem, verifiedBankAccount, type TestMember } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { fund } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

interface WithdrawalView {
  id: string;
  status: string;
  amount: string;
  firstApprovedAt: string | null;
}

/** Four eyes compare people, not keys (SPEC §6.2): large withdrawals and adjustments. */
describe('four eyes: two people, whatever keys they hold', () => {
  let t: TestApp;
  let second: TestMember & { staffId: string };
  let ownSecondKey: ReturnType<TestApp['client']>;
  let buyer: TestMember;

  const balances = async (m: TestMember) => (await t.clearing.get<{ cash: string; pending: string }>(`/v1/members/${m.id}/balances`)).body;
  const withdraw = (amount: string) =>
    buyer.client.post<WithdrawalView>(`/v1/members/${buyer.id}/withdrawals`, { amount, currency: 'CNY' });

  beforeAll(async () => {
    t = await startTestApp({ env: { WITHDRAWAL_FOUR_EYES_ABOVE: '1000.00' } });
    second = await createClearingUser(t, 'Second Person');
    buyer = await createMember(t, 'BUYER');
    await verifiedBankAccount(t, buyer);
    await fund(t, buyer, '10000.00');
    // A second key of the bootstrap person: the same pair of eyes.
    const key = await t.clearing.post<{ key: string }>(`/v1/members/${t.clearingMemberId}/api-keys`, { role: 'clearing', label: 'laptop' });
    expect(key.status, key.text).toBe(201);
    ownSecondKey = t.client(key.body.key);
  });
  afterAll(() => t.close());

  it('a withdrawal at or below the threshold is paid on one approval', async () => {
    const w = await withdraw('1000.00');
    const approved = await t.clearing.post<WithdrawalView>(`/v1/withdrawals/${w.body.id}/approve`, {});
    expect(approved.status, approved.text).toBe(200);
    expect(approved.body).toMatchObject({ status: 'APPROVED', firstApprovedAt: null });
  });

  it('above the threshold the first approval only records; the same person with another key is SELF_APPROVAL; a second person pays', async () => {
    const before = await balances(buyer);
    const w = await withdraw('1000.01');
    expect(w.status, w.text).toBe(201);

    const first = await t.clearing.post<WithdrawalView>(`/v1/withdrawals/${w.body.id}/approve`, {});
    expect(first.status, first.text).toBe(200);
    expect(first.body.status).toBe('PENDING');
    expect(first.body.firstApprovedAt).not.toBeNull();
    expect((await balances(buyer)).pending).toBe('1000.01');

    expectProblem(await t.clearing.post(`/v1/withdrawals/${w.body.id}/approve`, {}), 409, 'SELF_APPROVAL');
    expectProblem(await ownSecondKey.post(`/v1/withdrawals/${w.body.id}/approve`, {}), 409, 'SELF_APPROVAL');
    expectProblem(await buyer.client.post(`/v1/withdrawals/${w.body.id}/approve`, {}), 403, 'FORBIDDEN_ROLE');
    const row = await t.prisma.withdrawal.findUniqueOrThrow({ where: { id: w.body.id } });
    expect(row.status).toBe('PENDING');

    const paid = await second.client.post<WithdrawalView>(`/v1/withdrawals/${w.body.id}/approve`, {});
    expect(paid.status, paid.text).toBe(200);
    expect(paid.body.status).toBe('APPROVED');
    const after = await balances(buyer);
    expect(after.pending).toBe('0.00');
    expect(Number(before.cash) - Number(after.cash)).toBeCloseTo(1000.01, 2);
    expectProblem(await second.client.post(`/v1/withdrawals/${w.body.id}/approve`, {}), 409, 'WITHDRAWAL_NOT_PENDING');
    await expectLedgerConsistent(t.prisma);
  });

  it('a large withdrawal may be rejected by anyone after the first approval; the hold is released', async () => {
    const w = await withdraw('2000.00');
    await t.clearing.post(`/v1/withdrawals/${w.body.id}/approve`, {});
    const rejected = await t.clearing.post<WithdrawalView>(`/v1/withdrawals/${w.body.id}/reject`, { reason: 'changed mind' });
    expect(rejected.body.status).toBe('REJECTED');
    expect((await balances(buyer)).pending).toBe('0.00');
  });

  it('two people approving a large withdrawal at once: it is paid exactly once', async () => {
    const w = await withdraw('3000.00');
    const third = await createClearingUser(t, 'Third Person');
    const answers = await Promise.all([
      t.clearing.post<WithdrawalView>(`/v1/withdrawals/${w.body.id}/approve`, {}),
      second.client.post<WithdrawalView>(`/v1/withdrawals/${w.body.id}/approve`, {}),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(answers.map((a) => a.body.status).sort()).toEqual(['APPROVED', 'PENDING']);
    expectProblem(await third.client.post(`/v1/withdrawals/${w.body.id}/approve`, {}), 409, 'WITHDRAWAL_NOT_PENDING');
    expect(await t.prisma.transfer.count({ where: { kind: 'WITHDRAWAL', withdrawalId: w.body.id } })).toBe(1);
    await expectLedgerConsistent(t.prisma);
  });

  it('one person with two clearing keys cannot approve their own adjustment', async () => {
    const a = await createMember(t, 'TRADER');
    const b = await createMember(t, 'TRADER');
    await fund(t, a, '100.00');
    const p = await t.clearing.post<{ id: string; payloadHash: string }>('/v1/adjustments', {
      debitAccount: `member:${a.id}:cash`,
      creditAccount: `member:${b.id}:cash`,
      amount: '1.00',
      currency: 'CNY',
      reason: 'four eyes check',
    });
    expect(p.status, p.text).toBe(201);
    const body = { payloadHash: p.body.payloadHash };
    expectProblem(await t.clearing.post(`/v1/adjustments/${p.body.id}/approve`, body), 409, 'SELF_APPROVAL');
    expectProblem(await ownSecondKey.post(`/v1/adjustments/${p.body.id}/approve`, body), 409, 'SELF_APPROVAL');
    const ok = await second.client.post<{ status: string }>(`/v1/adjustments/${p.body.id}/approve`, body);
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body.status).toBe('APPROVED');
  });
});
