import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClearingUser, createMember, expectProblem, type TestMember } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { fund } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

interface AdjustmentView {
  id: string;
  status: string;
  payloadHash: string;
  amount: string;
  transferId: string | null;
}

describe('adjustments under four eyes (maker-checker)', () => {
  let t: TestApp;
  let checker: TestMember;
  let other: TestMember;
  let a: TestMember;
  let b: TestMember;
  const propose = (amount = '12.34') =>
    t.clearing.post<AdjustmentView>('/v1/adjustments', {
      debitAccount: `member:${a.id}:cash`,
      creditAccount: `member:${b.id}:cash`,
      amount,
      currency: 'CNY',
      reason: 'bank charge refunded to B',
    });
  const cash = async (m: TestMember) => (await t.clearing.get<{ cash: string }>(`/v1/members/${m.id}/balances`)).body.cash;

  beforeAll(async () => {
    t = await startTestApp();
    [checker, other] = [await createClearingUser(t), await createClearingUser(t)];
    [a, b] = [await createMember(t, 'TRADER'), await createMember(t, 'TRADER')];
    await fund(t, a, '100.00');
  });
  afterAll(() => t.close());

  it('posts once, only when a different clearing user approves the exact payload proposed', async () => {
    const p = await propose();
    expect(p.status, p.text).toBe(201);
    expect(p.body).toMatchObject({ status: 'PENDING', amount: '12.34', transferId: null });
    const hash = p.body.payloadHash;

    expectProblem(await t.clearing.post(`/v1/adjustments/${p.body.id}/approve`, { payloadHash: hash }), 409, 'SELF_APPROVAL');
    expectProblem(await a.client.post(`/v1/adjustments/${p.body.id}/approve`, { payloadHash: hash }), 403, 'FORBIDDEN_ROLE');
    expectProblem(
      await checker.client.post(`/v1/adjustments/${p.body.id}/approve`, { payloadHash: 'a'.repeat(64) }),
      409,
      'ADJUSTMENT_CHANGED',
    );
    // The proposal changed after review (here: behind the API): the reviewed hash no longer binds it.
    await t.prisma.$executeRaw`UPDATE adjustments SET "amountFen" = 99999 WHERE id = ${p.body.id}::uuid`;
    expectProblem(await checker.client.post(`/v1/adjustments/${p.body.id}/approve`, { payloadHash: hash }), 409, 'ADJUSTMENT_CHANGED');
    await t.prisma.$executeRaw`UPDATE adjustments SET "amountFen" = 1234 WHERE id = ${p.body.id}::uuid`;
    expect(await cash(a)).toBe('100.00');

    // Two checkers at once: exactly one approval posts.
    const [r1, r2] = await Promise.all([
      checker.client.post<AdjustmentView>(`/v1/adjustments/${p.body.id}/approve`, { payloadHash: hash }),
      other.client.post<AdjustmentView>(`/v1/adjustments/${p.body.id}/approve`, { payloadHash: hash }),
    ]);
    expect([r1.status, r2.status].toSorted((x, y) => x - y)).toEqual([201, 409]);
    expect((r1.status === 409 ? r1 : r2).body).toMatchObject({ code: 'ADJUSTMENT_NOT_PENDING' });
    expect(await cash(a)).toBe('87.66');
    expect(await cash(b)).toBe('12.34');
    expect(await t.prisma.transfer.count({ where: { kind: 'ADJUSTMENT' } })).toBe(1);
    expectProblem(await other.client.post(`/v1/adjustments/${p.body.id}/reject`, { comment: 'late' }), 409, 'ADJUSTMENT_NOT_PENDING');
    const events = (
      await t.clearing.get<{ items: { action: string; actorKeyId: string; outcome: string }[] }>(`/v1/audit-events?targetId=${p.body.id}`)
    ).body.items;
    expect(
      events
        .filter((e) => e.outcome === 'SUCCESS')
        .map((e) => e.action)
        .sort(),
    ).toEqual(['adjustment.approve', 'adjustment.propose']);
    await expectLedgerConsistent(t.prisma);
  });

  it('a rejected proposal can never be approved', async () => {
    const p = await propose('1.00');
    const rej = await checker.client.post<AdjustmentView>(`/v1/adjustments/${p.body.id}/reject`, { comment: 'no evidence' });
    expect(rej.status, rej.text).toBe(201);
    expect(rej.body.status).toBe('REJECTED');
    expectProblem(
      await other.client.post(`/v1/adjustments/${p.body.id}/approve`, { payloadHash: p.body.payloadHash }),
      409,
      'ADJUSTMENT_NOT_PENDING',
    );
    expect(await cash(b)).toBe('12.34');
  });

  it('validates proposals', async () => {
    expectProblem(
      await t.clearing.post('/v1/adjustments', {
        debitAccount: 'ccp:fees',
        creditAccount: 'ccp:fees',
        amount: '1.00',
        currency: 'CNY',
        reason: 'x',
      }),
      400,
      'VALIDATION_FAILED',
    );
    expectProblem(
      await t.clearing.post('/v1/adjustments', {
        debitAccount: 'ccp:fees',
        creditAccount: 'bank:settlement',
        amount: '1.005',
        currency: 'CNY',
        reason: 'x',
      }),
      400,
      'MONEY_TOO_PRECISE',
    );
    expectProblem(
      await t.clearing.post('/v1/adjustments', {
        debitAccount: 'ccp:fees',
        creditAccount: 'bank:settlement',
        amount: '1.00',
        currency: 'USD',
        reason: 'x',
      }),
      400,
      'CURRENCY_NOT_SUPPORTED',
    );
    expectProblem(
      await t.clearing.post('/v1/adjustments', {
        debitAccount: `member:${'0'.repeat(8)}-0000-4000-8000-000000000000:cash`,
        creditAccount: 'ccp:fees',
        amount: '1.00',
        currency: 'CNY',
        reason: 'x',
      }),
      404,
      'ACCOUNT_NOT_FOUND',
    );
    expectProblem(
      await t.clearing.post('/v1/adjustments', {
        debitAccount: 'nonsense',
        creditAccount: 'ccp:fees',
        amount: '1.00',
        currency: 'CNY',
        reason: 'x',
      }),
      400,
      'VALIDATION_FAILED',
    );
    expectProblem(
      await a.client.post('/v1/adjustments', {
        debitAccount: 'ccp:fees',
        creditAccount: `member:${a.id}:cash`,
        amount: '1.00',
        currency: 'CNY',
        reason: 'x',
      }),
      403,
      'FORBIDDEN_ROLE',
    );
    // Approving money the debit account does not have: refused, nothing posted, still PENDING.
    const big = await propose('1000.00');
    expectProblem(
      await checker.client.post(`/v1/adjustments/${big.body.id}/approve`, { payloadHash: big.body.payloadHash }),
      422,
      'INSUFFICIENT_FUNDS',
    );
    expect((await t.clearing.get<AdjustmentView>(`/v1/adjustments/${big.body.id}`)).body.status).toBe('PENDING');
  });
});
