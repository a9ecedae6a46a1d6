import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, expectProblem, verifiedBankAccount, type TestMember } from '../harness/factories.js';
import type { ApiClient, ApiResponse } from '../harness/http.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

/**
 * Follows nextCursor from the first page to the last; a cursor comes only with a full page.
 * `field`: where the page's rows are (the trial balance keeps its `accounts`).
 */
async function allPages<T>(client: ApiClient, path: string, limit: number, field = 'items') {
  const rows: T[] = [];
  const pages: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res: ApiResponse<Record<string, unknown> & { nextCursor: string | null }> = await client.get(
      `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`,
    );
    expect(res.status, res.text).toBe(200);
    const items = res.body[field] as T[];
    expect(items.length).toBeLessThanOrEqual(limit);
    pages.push(res.body);
    rows.push(...items);
    cursor = res.body.nextCursor;
    if (cursor) expect(items).toHaveLength(limit);
    else if (pages.length > 1) expect(items.length).toBeGreaterThan(0);
  } while (cursor);
  return { rows, pages };
}

describe('ledger list endpoints page with a cursor', () => {
  let t: TestApp;
  let buyer: TestMember;

  beforeAll(async () => {
    t = await startTestApp();
    buyer = await createMember(t, 'BUYER');
    await verifiedBankAccount(t, buyer);
    for (let i = 0; i < 5; i++) {
      const res = await t.clearing.post(`/v1/members/${buyer.id}/deposits`, { amount: '10.00', currency: 'CNY', reference: `PAGE-${i}` });
      expect(res.status, res.text).toBe(201);
    }
  });
  afterAll(() => t.close());

  it('GET /v1/members/:id/transfers: every transfer once, newest first, over several pages', async () => {
    const accounts = (await t.prisma.ledgerAccount.findMany({ where: { memberId: buyer.id } })).map((a) => a.id);
    const expected = await t.prisma.transfer.findMany({
      where: { OR: [{ debitAccountId: { in: accounts } }, { creditAccountId: { in: accounts } }] },
      orderBy: { seq: 'desc' },
      select: { id: true },
    });
    expect(expected).toHaveLength(5);
    const { rows, pages } = await allPages<{ id: string }>(buyer.client, `/v1/members/${buyer.id}/transfers`, 2);
    expect(pages).toHaveLength(3);
    expect(rows.map((r) => r.id)).toEqual(expected.map((e) => e.id));
    expectProblem(await buyer.client.get(`/v1/members/${buyer.id}/transfers?limit=501`), 400, 'VALIDATION_FAILED');
  });

  it('GET /v1/withdrawals: every withdrawal once, newest first, ties broken by id', async () => {
    // Requested at once: several may share a createdAt, which the cursor must not skip or repeat.
    const requested = await Promise.all(
      Array.from({ length: 5 }, () =>
        buyer.client.post<{ id: string }>(`/v1/members/${buyer.id}/withdrawals`, { amount: '1.00', currency: 'CNY' }),
      ),
    );
    for (const r of requested) expect(r.status, r.text).toBe(201);
    const expected = await t.prisma.withdrawal.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], select: { id: true } });
    expect(expected).toHaveLength(5);
    for (const client of [buyer.client, t.clearing]) {
      const { rows, pages } = await allPages<{ id: string }>(client, '/v1/withdrawals', 2);
      expect(pages).toHaveLength(3);
      expect(rows.map((r) => r.id)).toEqual(expected.map((e) => e.id));
    }
    expectProblem(await t.clearing.get('/v1/withdrawals?limit=501'), 400, 'VALIDATION_FAILED');
    expectProblem(await t.clearing.get('/v1/withdrawals?cursor=bm9wZQ'), 400, 'VALIDATION_FAILED');
  });

  it('GET /v1/ledger/trial-balance: the accounts a page at a time, the total over every account on each page', async () => {
    await createMember(t, 'OPERATOR');
    const expected = await t.prisma.ledgerAccount.findMany({ orderBy: { code: 'asc' }, select: { code: true } });
    expect(expected.length).toBeGreaterThan(6);
    const { rows, pages } = await allPages<{ code: string; balance: string }>(t.clearing, '/v1/ledger/trial-balance', 3, 'accounts');
    expect(pages.length).toBe(Math.ceil(expected.length / 3));
    expect(rows.map((r) => r.code)).toEqual(expected.map((e) => e.code));
    for (const p of pages) expect(p).toMatchObject({ currency: 'CNY', total: '0.00' });
    // The page's balances are not the total's: the bank's side alone is far from zero.
    expect(rows.find((r) => r.code === 'bank:settlement')?.balance).toBe('-50.00');
    // Without a limit: every account of this small ledger on one page.
    const whole = await t.clearing.get<{ accounts: unknown[]; nextCursor: string | null }>('/v1/ledger/trial-balance');
    expect(whole.body.accounts).toHaveLength(expected.length);
    expect(whole.body.nextCursor).toBeNull();
    expectProblem(await t.clearing.get('/v1/ledger/trial-balance?limit=501'), 400, 'VALIDATION_FAILED');
  });
});
