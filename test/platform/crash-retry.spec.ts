import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, verifiedBankAccount, type TestMember } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { createProduct, createSeries, fund } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

// The window between the business commit and the stored response: the process dies there, the
// claim's lease runs out, and the client retries with the same Idempotency-Key. The retry must
// find the committed effect, not make a second one.
describe('a retry after a crash between commit and stored response has one effect', () => {
  let t: TestApp;
  let trader: TestMember;
  const loseStoredResponse = (memberId: string, key: string) =>
    t.prisma.idempotencyRecord.update({
      where: { memberId_key: { memberId, key } },
      data: { status: 'IN_PROGRESS', responseBody: null, responseStatus: null, lockedUntil: new Date(Date.now() - 1_000) },
    });

  beforeAll(async () => {
    t = await startTestApp();
    trader = await createMember(t, 'TRADER');
    await verifiedBankAccount(t, trader);
    await fund(t, trader, '100.00');
  });
  afterAll(() => t.close());

  it('member creation', async () => {
    const first = await t.clearing.post<{ id: string }>(
      '/v1/members',
      { name: 'Crashy Co', kind: 'BUYER' },
      { 'idempotency-key': 'crash-member' },
    );
    await loseStoredResponse(t.clearingMemberId, 'crash-member');
    const retry = await t.clearing.post<{ id: string }>(
      '/v1/members',
      { name: 'Crashy Co', kind: 'BUYER' },
      { 'idempotency-key': 'crash-member' },
    );
    expect(retry.status).toBe(201);
    expect(retry.body.id).toBe(first.body.id);
    expect(await t.prisma.member.count({ where: { name: 'Crashy Co' } })).toBe(1);
  });

  it('withdrawal request', async () => {
    const body = { amount: '10.00', currency: 'CNY' };
    const first = await trader.client.post<{ id: string }>(`/v1/members/${trader.id}/withdrawals`, body, { 'idempotency-key': 'crash-w' });
    await loseStoredResponse(trader.id, 'crash-w');
    const retry = await trader.client.post<{ id: string }>(`/v1/members/${trader.id}/withdrawals`, body, { 'idempotency-key': 'crash-w' });
    expect(retry.body.id).toBe(first.body.id);
    expect((await trader.client.get(`/v1/members/${trader.id}/balances`)).body).toMatchObject({ cash: '90.00', pending: '10.00' });
  });

  it('order placement', async () => {
    const series = await createSeries(t, await createProduct(t));
    const body = { series, side: 'BUY', price: '3.90', quantity: 2, timeInForce: 'GTC' };
    const first = await trader.client.post<{ id: string }>('/v1/orders', body, { 'idempotency-key': 'crash-o' });
    await loseStoredResponse(trader.id, 'crash-o');
    const retry = await trader.client.post<{ id: string; status: string }>('/v1/orders', body, { 'idempotency-key': 'crash-o' });
    expect(retry.body).toMatchObject({ id: first.body.id, status: 'OPEN' });
    expect(await t.prisma.order.count({ where: { memberId: trader.id } })).toBe(1);
    await expectLedgerConsistent(t.prisma);
  });
});
