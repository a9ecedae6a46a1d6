import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, expectProblem, verifiedBankAccount, type TestMember } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

describe('cash: deposits, withdrawals, balances, history, trial balance', () => {
  let t: TestApp;
  let buyer: TestMember;
  let other: TestMember;

  const deposit = (m: TestMember, amount: string, reference: string) =>
    t.clearing.post(`/v1/members/${m.id}/deposits`, { amount, currency: 'CNY', reference });
  const balances = async (m: TestMember) => (await t.clearing.get(`/v1/members/${m.id}/balances`)).body;

  beforeAll(async () => {
    t = await startTestApp();
    buyer = await createMember(t, 'BUYER');
    await verifiedBankAccount(t, buyer);
    other = await createMember(t, 'OPERATOR');
  });
  afterAll(() => t.close());

  it('creates cash, margin, escrow, pending and guarantee accounts with the member, all at zero', async () => {
    expect(await balances(buyer)).toEqual({ currency: 'CNY', cash: '0.00', margin: '0.00', escrow: '0.00', pending: '0.00' });
    const codes = (await t.prisma.ledgerAccount.findMany({ where: { memberId: buyer.id } })).map((a) => a.code).sort();
    expect(codes).toEqual(['cash', 'escrow', 'guarantee', 'margin', 'pending'].map((x) => `member:${buyer.id}:${x}`));
  });

  it('records a deposit bank:settlement → member cash, once per bank reference', async () => {
    const res = await deposit(buyer, '100.00', 'BOC-0001');
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({
      kind: 'DEPOSIT',
      debitAccount: 'bank:settlement',
      creditAccount: `member:${buyer.id}:cash`,
      amount: '100.00',
      currency: 'CNY',
      reference: 'BOC-0001',
      memberId: buyer.id,
    });
    const again = await deposit(buyer, '100.00', 'BOC-0001');
    expect(again.status).toBe(201);
    expect((again.body as { id: string }).id).toBe((res.body as { id: string }).id);
    expectProblem(await deposit(buyer, '99.00', 'BOC-0001'), 409, 'DEPOSIT_REFERENCE_REUSED');
    expect((await balances(buyer)).cash).toBe('100.00');
    await expectLedgerConsistent(t.prisma);
  });

  it.each([
    [{ amount: 100, currency: 'CNY', reference: 'R1' }, 'MONEY_NOT_A_STRING'],
    [{ amount: '1.005', currency: 'CNY', reference: 'R1' }, 'MONEY_TOO_PRECISE'],
    [{ amount: '-0', currency: 'CNY', reference: 'R1' }, 'MONEY_NEGATIVE'],
    [{ amount: '1e3', currency: 'CNY', reference: 'R1' }, 'MONEY_FORMAT'],
    [{ amount: '+1', currency: 'CNY', reference: 'R1' }, 'MONEY_FORMAT'],
    [{ amount: ' 1', currency: 'CNY', reference: 'R1' }, 'MONEY_FORMAT'],
    [{ amount: '0.00', currency: 'CNY', reference: 'R1' }, 'MONEY_ZERO'],
    [{ amount: '92233720368547758.08', currency: 'CNY', reference: 'R1' }, 'MONEY_OUT_OF_RANGE'],
    [{ amount: '1.00', currency: 'USD', reference: 'R1' }, 'CURRENCY_NOT_SUPPORTED'],
    [{ amount: '1.00', reference: 'R1' }, 'CURRENCY_NOT_SUPPORTED'],
    [{ amount: '1.00', currency: 'CNY', reference: 'bad reference!' }, 'VALIDATION_FAILED'],
    [{ amount: '1.00', currency: 'CNY' }, 'VALIDATION_FAILED'],
  ])('refuses deposit %j with 400 %s and writes nothing', async (body, code) => {
    const before = await t.prisma.transfer.count();
    expectProblem(await t.clearing.post(`/v1/members/${buyer.id}/deposits`, body), 400, code);
    expect(await t.prisma.transfer.count()).toBe(before);
  });

  it('holds a withdrawal in pending, then pays it to the bank on approval', async () => {
    const w = await buyer.client.post<{ id: string; status: string }>(`/v1/members/${buyer.id}/withdrawals`, {
      amount: '30.00',
      currency: 'CNY',
    });
    expect(w.status, w.text).toBe(201);
    expect(w.body).toMatchObject({ status: 'PENDING', amount: '30.00', memberId: buyer.id });
    expect(await balances(buyer)).toMatchObject({ cash: '70.00', pending: '30.00' });

    const approved = await t.clearing.post(`/v1/withdrawals/${w.body.id}/approve`, {});
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'APPROVED' });
    expect(await balances(buyer)).toMatchObject({ cash: '70.00', pending: '0.00' });
    expectProblem(await t.clearing.post(`/v1/withdrawals/${w.body.id}/approve`, {}), 409, 'WITHDRAWAL_NOT_PENDING');
    expectProblem(await t.clearing.post(`/v1/withdrawals/${w.body.id}/reject`, {}), 409, 'WITHDRAWAL_NOT_PENDING');
    await expectLedgerConsistent(t.prisma);
  });

  it('returns a rejected withdrawal to cash', async () => {
    const w = await buyer.client.post<{ id: string }>(`/v1/members/${buyer.id}/withdrawals`, { amount: '20.00', currency: 'CNY' });
    const rejected = await t.clearing.post(`/v1/withdrawals/${w.body.id}/reject`, { reason: 'account details missing' });
    expect(rejected.body).toMatchObject({ status: 'REJECTED', reason: 'account details missing' });
    expect(await balances(buyer)).toMatchObject({ cash: '70.00', pending: '0.00' });
  });

  it('refuses a withdrawal beyond free cash with INSUFFICIENT_FUNDS and leaves no trace', async () => {
    const before = { withdrawals: await t.prisma.withdrawal.count(), transfers: await t.prisma.transfer.count() };
    expectProblem(
      await buyer.client.post(`/v1/members/${buyer.id}/withdrawals`, { amount: '70.01', currency: 'CNY' }),
      422,
      'INSUFFICIENT_FUNDS',
    );
    expect({ withdrawals: await t.prisma.withdrawal.count(), transfers: await t.prisma.transfer.count() }).toEqual(before);
  });

  it('checks roles and ownership on every cash route', async () => {
    expectProblem(
      await buyer.client.post(`/v1/members/${buyer.id}/deposits`, { amount: '1.00', currency: 'CNY', reference: 'X' }),
      403,
      'FORBIDDEN_ROLE',
    );
    expectProblem(await other.client.post(`/v1/members/${buyer.id}/withdrawals`, { amount: '1.00', currency: 'CNY' }), 404, 'NOT_FOUND');
    expectProblem(await t.clearing.post(`/v1/members/${buyer.id}/withdrawals`, { amount: '1.00', currency: 'CNY' }), 403, 'FORBIDDEN_ROLE');
    expectProblem(await other.client.get(`/v1/members/${buyer.id}/balances`), 404, 'NOT_FOUND');
    expectProblem(await other.client.get(`/v1/members/${buyer.id}/transfers`), 404, 'NOT_FOUND');
    expectProblem(await buyer.client.get('/v1/ledger/trial-balance'), 403, 'FORBIDDEN_ROLE');
    const w = await buyer.client.post<{ id: string }>(`/v1/members/${buyer.id}/withdrawals`, { amount: '1.00', currency: 'CNY' });
    expectProblem(await buyer.client.post(`/v1/withdrawals/${w.body.id}/approve`, {}), 403, 'FORBIDDEN_ROLE');
    expectProblem(await other.client.get(`/v1/withdrawals/${w.body.id}`), 404, 'NOT_FOUND');
    expect((await buyer.client.get(`/v1/withdrawals/${w.body.id}`)).status).toBe(200);
    await t.clearing.post(`/v1/withdrawals/${w.body.id}/reject`, {});
  });

  it('pages through withdrawals newest first, own only', async () => {
    const first = await buyer.client.get<{ items: { id: string; memberId: string }[]; nextCursor: string }>('/v1/withdrawals?limit=2');
    expect(first.body.items).toHaveLength(2);
    const rest = await buyer.client.get<{ items: { id: string }[]; nextCursor: string | null }>(
      `/v1/withdrawals?limit=50&cursor=${first.body.nextCursor}`,
    );
    const all = [...first.body.items, ...rest.body.items];
    expect(new Set(all.map((w) => w.id)).size).toBe(all.length);
    expect(all.length).toBe(await t.prisma.withdrawal.count({ where: { memberId: buyer.id } }));
    expect(rest.body.nextCursor).toBeNull();
    expect((await other.client.get<{ items: unknown[] }>('/v1/withdrawals')).body.items).toEqual([]);
    expectProblem(await buyer.client.get('/v1/withdrawals?cursor=bm90LWEtZGF0ZQ'), 400, 'VALIDATION_FAILED');
  });

  it('lists transfers newest first with kind and date filters and a cursor', async () => {
    const all = await buyer.client.get<{ items: { kind: string }[]; nextCursor: string | null }>(
      `/v1/members/${buyer.id}/transfers?limit=100`,
    );
    expect(all.body.items.map((x) => x.kind)).toEqual([
      'WITHDRAWAL_RELEASE',
      'WITHDRAWAL_HOLD',
      'WITHDRAWAL_RELEASE',
      'WITHDRAWAL_HOLD',
      'WITHDRAWAL',
      'WITHDRAWAL_HOLD',
      'DEPOSIT',
    ]);
    const deposits = await buyer.client.get<{ items: unknown[] }>(`/v1/members/${buyer.id}/transfers?kind=DEPOSIT`);
    expect(deposits.body.items).toHaveLength(1);
    const page1 = await buyer.client.get<{ items: { id: string }[]; nextCursor: string }>(`/v1/members/${buyer.id}/transfers?limit=4`);
    const page2 = await buyer.client.get<{ items: { id: string }[]; nextCursor: string | null }>(
      `/v1/members/${buyer.id}/transfers?limit=4&cursor=${page1.body.nextCursor}`,
    );
    expect(page1.body.items).toHaveLength(4);
    expect(page2.body.items).toHaveLength(3);
    expect(page2.body.nextCursor).toBeNull();
    const future = await buyer.client.get<{ items: unknown[] }>(`/v1/members/${buyer.id}/transfers?from=2099-01-01`);
    expect(future.body.items).toEqual([]);
    expectProblem(await buyer.client.get(`/v1/members/${buyer.id}/transfers?kind=BOGUS`), 400, 'VALIDATION_FAILED');
  });

  it('shows clearing staff a trial balance of every account totalling 0.00', async () => {
    await deposit(other, '12.34', 'ICBC-77');
    const tb = await t.clearing.get<{ currency: string; total: string; accounts: { code: string; balance: string }[] }>(
      '/v1/ledger/trial-balance',
    );
    expect(tb.body.currency).toBe('CNY');
    expect(tb.body.total).toBe('0.00');
    const byCode = Object.fromEntries(tb.body.accounts.map((a) => [a.code, a.balance]));
    expect(byCode['bank:settlement']).toBe('-82.34'); // 100.00 + 12.34 in, 30.00 paid out
    expect(byCode[`member:${buyer.id}:cash`]).toBe('70.00');
    expect(byCode['ccp:settlement']).toBe('0.00');
  });

  it('refuses to rewrite history: transfers are immutable in the database', async () => {
    await expect(t.prisma.$executeRaw`UPDATE transfers SET "amountFen" = 1`).rejects.toThrow(/immutable/);
    await expect(t.prisma.$executeRaw`DELETE FROM transfers`).rejects.toThrow(/immutable/);
  });

  it('refuses, in the database, a transfer the ledger would never write; the whole statement fails', async () => {
    const [a, b] = await t.prisma.$queryRaw<{ id: string }[]>`SELECT id FROM ledger_accounts ORDER BY code LIMIT 2`;
    const count = async () => Number((await t.prisma.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM transfers`)[0].n);
    const before = await count();
    // A good row beside the bad one: the statement is refused whole, not row by row.
    const insert = (debit: string, credit: string, amount: number) => t.prisma.$executeRaw`
      INSERT INTO transfers (id, "idempotencyKey", "debitAccountId", "creditAccountId", "amountFen", kind, "businessDate")
      VALUES (gen_random_uuid(), ${`probe-ok-${randomUUID()}`}, ${a.id}::uuid, ${b.id}::uuid, 1, 'DEPOSIT', '2026-12-01'),
             (gen_random_uuid(), ${`probe-bad-${randomUUID()}`}, ${debit}::uuid, ${credit}::uuid, ${amount}, 'DEPOSIT', '2026-12-01')`;
    await expect(insert(a.id, b.id, 0)).rejects.toThrow(/amount must be positive/);
    await expect(insert(a.id, b.id, -5)).rejects.toThrow(/amount must be positive/);
    await expect(insert(a.id, a.id, 1)).rejects.toThrow(/must differ/);
    await expect(insert(a.id, randomUUID(), 1)).rejects.toThrow(/does not exist/);
    await expect(insert(randomUUID(), b.id, 1)).rejects.toThrow(/does not exist/);
    expect(await count()).toBe(before);
    // Accounts are permanent: a transfer can never be left pointing at nothing.
    await expect(t.prisma.$executeRaw`DELETE FROM ledger_accounts WHERE id = ${a.id}::uuid`).rejects.toThrow(/permanent/);
    await expect(t.prisma.$executeRaw`UPDATE ledger_accounts SET id = gen_random_uuid() WHERE id = ${a.id}::uuid`).rejects.toThrow(
      /permanent/,
    );
  });
});
