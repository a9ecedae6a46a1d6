import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerService } from '../../src/ledger/ledger.service.js';
import { HOUSE, memberAccount } from '../../src/ledger/ledger.types.js';
import { createMember, verifiedBankAccount } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

describe('ledger under concurrency', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const date = '2026-12-01';
  /** n new members' cash accounts, each funded by a deposit posted straight on the ledger. */
  const fundedCashAccounts = async (n: number, keyPrefix: string, amountFen: bigint): Promise<string[]> => {
    const members = await Promise.all(Array.from({ length: n }, () => createMember(t, 'TRADER')));
    const cash = members.map((m) => memberAccount(m.id, 'CASH'));
    await t.prisma.$transaction((tx) =>
      t.app.get(LedgerService).post(
        tx,
        cash.map((c, i) => ({
          idempotencyKey: `${keyPrefix}-seed-${i}`,
          debit: HOUSE.bankSettlement,
          credit: c,
          amountFen,
          kind: 'DEPOSIT',
          businessDate: date,
        })),
      ),
    );
    return cash;
  };

  it('200 concurrent 1.00 withdrawals against 100.00: exactly 100 succeed, cash ends at 0.00, never negative, no 5xx', async () => {
    const m = await createMember(t, 'TRADER');
    await verifiedBankAccount(t, m);
    await t.clearing.post(`/v1/members/${m.id}/deposits`, { amount: '100.00', currency: 'CNY', reference: 'RACE-1' });
    const results = await Promise.all(
      Array.from({ length: 200 }, () => m.client.post(`/v1/members/${m.id}/withdrawals`, { amount: '1.00', currency: 'CNY' })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(100);
    expect(statuses.filter((s) => s === 422)).toHaveLength(100);
    expect(results.filter((r) => r.status === 422).every((r) => (r.body as { code: string }).code === 'INSUFFICIENT_FUNDS')).toBe(true);
    const b = (await m.client.get(`/v1/members/${m.id}/balances`)).body;
    expect(b).toMatchObject({ cash: '0.00', pending: '100.00' });
    expect(await t.prisma.withdrawal.count({ where: { memberId: m.id } })).toBe(100);
    await expectLedgerConsistent(t.prisma);
  }, 60_000);

  it('200 concurrent transfers across a hot account in both directions never deadlock to the client', async () => {
    const a = await createMember(t, 'OPERATOR');
    const b = await createMember(t, 'OPERATOR');
    const ledger = t.app.get(LedgerService);
    await t.prisma.$transaction((tx) =>
      ledger.post(tx, [
        {
          idempotencyKey: 'seed-a',
          debit: HOUSE.bankSettlement,
          credit: memberAccount(a.id, 'CASH'),
          amountFen: 10_000n,
          kind: 'DEPOSIT',
          businessDate: date,
        },
        {
          idempotencyKey: 'seed-b',
          debit: HOUSE.bankSettlement,
          credit: memberAccount(b.id, 'CASH'),
          amountFen: 10_000n,
          kind: 'DEPOSIT',
          businessDate: date,
        },
      ]),
    );
    // Each posting touches both members and ccp:settlement, listed in opposite orders.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) =>
        t.prisma.$transaction((tx) =>
          ledger.post(tx, [
            {
              idempotencyKey: `x-${i}-1`,
              debit: memberAccount(i % 2 ? a.id : b.id, 'CASH'),
              credit: HOUSE.ccpSettlement,
              amountFen: 100n,
              kind: 'ADJUSTMENT',
              businessDate: date,
            },
            {
              idempotencyKey: `x-${i}-2`,
              debit: HOUSE.ccpSettlement,
              credit: memberAccount(i % 2 ? b.id : a.id, 'CASH'),
              amountFen: 100n,
              kind: 'ADJUSTMENT',
              businessDate: date,
            },
          ]),
        ),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    await expectLedgerConsistent(t.prisma);
  }, 60_000);

  it('the same transfer key sent 10 times in parallel is one transfer', async () => {
    const m = await createMember(t, 'BUYER');
    const ledger = t.app.get(LedgerService);
    const request = {
      idempotencyKey: 'same-key-1',
      debit: HOUSE.bankSettlement,
      credit: memberAccount(m.id, 'CASH'),
      amountFen: 500n,
      kind: 'DEPOSIT' as const,
      businessDate: '2026-12-01',
    };
    const posted = await Promise.all(Array.from({ length: 10 }, () => t.prisma.$transaction((tx) => ledger.post(tx, [request]))));
    expect(new Set(posted.map(([p]) => p.id)).size).toBe(1);
    expect(await t.prisma.transfer.count({ where: { idempotencyKey: 'same-key-1' } })).toBe(1);
    expect((await m.client.get(`/v1/members/${m.id}/balances`)).body).toMatchObject({ cash: '5.00' });
  });

  it('the same Idempotency-Key on a deposit sent 10 times in parallel is one deposit', async () => {
    const m = await createMember(t, 'BUYER');
    const res = await Promise.all(
      Array.from({ length: 10 }, () =>
        t.clearing.post(
          `/v1/members/${m.id}/deposits`,
          { amount: '7.00', currency: 'CNY', reference: 'PAR-1' },
          { 'idempotency-key': 'dep-par-1' },
        ),
      ),
    );
    expect(res.map((r) => r.status)).toEqual(Array(10).fill(201));
    expect(new Set(res.map((r) => r.text)).size).toBe(1);
    expect((await m.client.get(`/v1/members/${m.id}/balances`)).body).toMatchObject({ cash: '7.00' });
    await expectLedgerConsistent(t.prisma);
  });

  it('16 concurrent batches over the same accounts in shuffled orders, half of them replays racing their originals, and one that must be refused: none deadlocks, each key moves once, balances add up', async () => {
    const cash = await fundedCashAccounts(12, 'overlap', 1_000_000n);
    const ledger = t.app.get(LedgerService);
    // Deterministic shuffles: every batch touches every account, in its own order.
    let seed = 7;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648);
    const batch = (b: number) =>
      Array.from({ length: 60 }, (_, i) => {
        const from = next() % cash.length;
        const to = (from + 1 + (next() % (cash.length - 1))) % cash.length;
        return {
          idempotencyKey: `overlap-${b}-${i}`,
          debit: cash[from],
          credit: cash[to],
          amountFen: BigInt(1 + (next() % 500)),
          kind: 'ADJUSTMENT' as const,
          businessDate: date,
        };
      });
    const originals = Array.from({ length: 8 }, (_, b) => batch(b));
    // One batch that must fail whole: its last transfer takes more than any account holds.
    const refused = [
      ...batch(99),
      {
        idempotencyKey: 'overlap-too-much',
        debit: cash[0],
        credit: cash[1],
        amountFen: 50_000_000n,
        kind: 'ADJUSTMENT' as const,
        businessDate: date,
      },
    ];
    const before = await t.prisma.transfer.count();
    const outcomes = await Promise.all(
      [...originals, ...originals.map((o) => [...o].reverse()), refused].map((reqs) =>
        t.prisma
          .$transaction((tx) => ledger.postBatch(tx, reqs))
          .then(
            (r) => `ok ${r.inserted}`,
            (e: { code?: string }) => `failed ${e.code}`,
          ),
      ),
    );
    expect(outcomes.at(-1)).toBe('failed INSUFFICIENT_FUNDS');
    // Each original key moved once: by its batch or by the replay that raced it, never both.
    expect(outcomes.slice(0, -1).filter((o) => !o.startsWith('ok '))).toEqual([]);
    expect(outcomes.slice(0, -1).reduce((n, o) => n + Number(o.slice(3)), 0)).toBe(8 * 60);
    expect(await t.prisma.transfer.count()).toBe(before + 8 * 60);
    const expected = new Map(cash.map((c) => [c, 1_000_000n]));
    for (const r of originals.flat()) {
      expected.set(r.debit, expected.get(r.debit)! - r.amountFen);
      expected.set(r.credit, expected.get(r.credit)! + r.amountFen);
    }
    const rows = await t.prisma.ledgerAccount.findMany({ where: { code: { in: cash } }, select: { code: true, balanceFen: true } });
    expect(new Map(rows.map((r) => [r.code, r.balanceFen]))).toEqual(expected);
    await expectLedgerConsistent(t.prisma);
  }, 60_000);

  it('a batch and its replay with the keys in the opposite order, raced 20 times: one posts, the other replays, never a deadlock', async () => {
    const cash = await fundedCashAccounts(4, 'mirror', 10_000_000n);
    const ledger = t.app.get(LedgerService);
    for (let round = 0; round < 20; round++) {
      const reqs = Array.from({ length: 300 }, (_, i) => ({
        idempotencyKey: `mirror-${round}-${i}`,
        debit: cash[i % 4],
        credit: cash[(i + 1) % 4],
        amountFen: 1n,
        kind: 'ADJUSTMENT' as const,
        businessDate: date,
      }));
      const outcomes = await Promise.all(
        [reqs, [...reqs].reverse()].map((batch) =>
          t.prisma
            .$transaction((tx) => ledger.postBatch(tx, batch))
            .then(
              (r) => r.inserted,
              (e: { code?: string; message?: string }) => `failed ${e.code} ${e.message?.slice(0, 120)}`,
            ),
        ),
      );
      expect(outcomes.toSorted((a, b) => String(a).localeCompare(String(b)))).toEqual([0, 300]);
    }
    await expectLedgerConsistent(t.prisma);
  }, 60_000);
});
