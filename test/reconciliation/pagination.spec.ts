import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dateColumn } from '../../src/platform/time/business-date.js';
import { createMember, expectProblem, type TestMember } from '../harness/factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

const DAY = '2026-11-20';

describe('reconciliation and payments lists page with the shared cursor', () => {
  let t: TestApp;
  let members: TestMember[];

  /** Follows nextCursor from the first page to the last; every page but the last says there is more. */
  const pageThrough = async <T>(path: string, limit: number): Promise<{ items: T[]; pages: number }> => {
    const items: T[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const res: { status: number; text: string; body: Page<T> } = await t.clearing.get<Page<T>>(
        `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.status, res.text).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(limit);
      pages++;
      cursor = res.body.nextCursor;
      if (cursor !== null) expect(res.body.items).toHaveLength(limit);
      items.push(...res.body.items);
    } while (cursor !== null);
    return { items, pages };
  };

  beforeAll(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'error' } });
    members = [];
    for (let i = 0; i < 5; i++) members.push(await createMember(t, 'TRADER'));
  });
  afterAll(() => t?.close());

  it('GET /v1/adjustments: newest first, every adjustment once, the status filter kept across pages', async () => {
    const proposed: string[] = [];
    for (const [i, m] of members.entries()) {
      const res = await t.clearing.post<{ id: string }>('/v1/adjustments', {
        debitAccount: 'ccp:fees',
        creditAccount: `member:${m.id}:cash`,
        amount: `${i + 1}.00`,
        currency: 'CNY',
        reason: `paging ${i}`,
      });
      expect(res.status, res.text).toBe(201);
      proposed.push(res.body.id);
    }

    const { items, pages } = await pageThrough<{ id: string; createdAt: string }>('/v1/adjustments', 2);
    expect(pages).toBe(3);
    expect(items.map((a) => a.id)).toEqual([...proposed].reverse());
    const pending = await pageThrough<{ id: string; status: string }>('/v1/adjustments?status=PENDING', 3);
    expect(pending.items.map((a) => a.id)).toEqual([...proposed].reverse());
    expect((await pageThrough('/v1/adjustments?status=APPROVED', 2)).items).toEqual([]);
  });

  it('GET /v1/reconciliation/breaks: first seen first, every break once', async () => {
    for (const m of members)
      await t.prisma.$executeRaw`UPDATE ledger_accounts SET "balanceFen" = "balanceFen" + 5 WHERE code = ${`member:${m.id}:cash`}`;
    const run = await t.clearing.post('/v1/reconciliation/runs', {});
    expect(run.status, run.text).toBe(201);
    const expected = await t.prisma.break.findMany({ orderBy: [{ firstSeenAt: 'asc' }, { id: 'asc' }], select: { id: true } });
    expect(expected.length).toBeGreaterThanOrEqual(6); // a drift per member account, and the ledger sum
    const { items, pages } = await pageThrough<{ id: string; type: string }>('/v1/reconciliation/breaks', 2);
    expect(pages).toBe(Math.ceil(expected.length / 2));
    expect(items.map((b) => b.id)).toEqual(expected.map((b) => b.id));
    const drift = await pageThrough<{ id: string; type: string }>('/v1/reconciliation/breaks?type=BALANCE_DRIFT&status=OPEN', 2);
    expect(drift.items).toHaveLength(members.length);
    expect(new Set(drift.items.map((b) => b.id)).size).toBe(members.length);
    expect(drift.items.every((b) => b.type === 'BALANCE_DRIFT')).toBe(true);
    for (const m of members)
      await t.prisma.$executeRaw`UPDATE ledger_accounts SET "balanceFen" = "balanceFen" - 5 WHERE code = ${`member:${m.id}:cash`}`;
  });

  it('GET /v1/audit-events: newest first by sequence, every event once', async () => {
    const expected = await t.prisma.auditEvent.findMany({ where: { action: 'adjustment.propose' }, orderBy: { seq: 'desc' } });
    expect(expected.length).toBe(members.length);
    const { items, pages } = await pageThrough<{ id: string; seq: string }>('/v1/audit-events?action=adjustment.propose', 2);
    expect(pages).toBe(3);
    expect(items.map((e) => e.id)).toEqual(expected.map((e) => e.id));
  });

  it('GET /v1/payment-instructions: a business date in member order, every member once', async () => {
    for (const [i, m] of members.entries())
      await t.prisma.marginCall.create({
        data: { memberId: m.id, businessDate: dateColumn(DAY), amountFen: BigInt(100 * (i + 1)), dueAt: new Date() },
      });
    const { items, pages } = await pageThrough<{ memberId: string; direction: string; amount: string }>(
      `/v1/payment-instructions?businessDate=${DAY}`,
      2,
    );
    expect(pages).toBe(3);
    expect(items.map((i) => i.memberId)).toEqual(members.map((m) => m.id).toSorted((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
    expect(items.every((i) => i.direction === 'COLLECT')).toBe(true);
    // The file exports are not paged: the CSV holds every instruction of the date.
    const csv = await t.clearing.request('GET', `/v1/payment-instructions?businessDate=${DAY}&format=csv&limit=2`);
    expect(csv.text.trim().split('\n')).toHaveLength(members.length + 1);
  });

  it('refuses a page larger than 500 and a cursor it did not issue', async () => {
    for (const path of [
      '/v1/adjustments',
      '/v1/reconciliation/breaks',
      '/v1/audit-events',
      `/v1/payment-instructions?businessDate=${DAY}`,
    ]) {
      const sep = path.includes('?') ? '&' : '?';
      expectProblem(await t.clearing.get(`${path}${sep}limit=501`), 400, 'VALIDATION_FAILED');
      expectProblem(await t.clearing.get(`${path}${sep}cursor=bm90LWEta2V5`), 400, 'VALIDATION_FAILED');
      expect((await t.clearing.get(`${path}${sep}limit=500`)).status).toBe(200);
    }
    // A well-formed sequence number past bigint's range is refused too, not a database error.
    expectProblem(
      await t.clearing.get(`/v1/audit-events?cursor=${Buffer.from('9'.repeat(30)).toString('base64url')}`),
      400,
      'VALIDATION_FAILED',
    );
  });
});
