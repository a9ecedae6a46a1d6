import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerService } from '../../src/ledger/ledger.service.js';
import { HOUSE, memberAccount, type TransferRequest } from '../../src/ledger/ledger.types.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

describe('batch posting', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('posts 100,000 transfers set-based; balances equal an independent recomputation; a replay moves nothing', async () => {
    const MEMBERS = 1_000;
    const N = 100_000;
    // Members and their accounts in bulk (the API path is tested elsewhere).
    const members = await t.prisma.$queryRaw<{ id: string }[]>`
      INSERT INTO members (id, name, kind, "updatedAt") SELECT gen_random_uuid(), 'bulk-' || g, 'TRADER', now() FROM generate_series(1, ${MEMBERS}) g RETURNING id`;
    await t.prisma.$executeRaw`
      INSERT INTO ledger_accounts (id, code, "memberId", type, "mustNotGoNegative")
      SELECT gen_random_uuid(), 'member:' || m.id || ':' || lower(t::text), m.id, t::"AccountType", true
      FROM members m CROSS JOIN unnest(ARRAY['CASH','MARGIN','ESCROW','PENDING']) t WHERE m.name LIKE 'bulk-%'`;
    const ids = members.map((m) => m.id);

    // Deterministic pseudo-random stream (no Math.random: the test must be reproducible).
    let seed = 42;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648);
    const expected = new Map<string, bigint>();
    const add = (code: string, fen: bigint) => expected.set(code, (expected.get(code) ?? 0n) + fen);
    const requests: TransferRequest[] = ids.map((id, i) => ({
      idempotencyKey: `seed-${i}`,
      debit: HOUSE.bankSettlement,
      credit: memberAccount(id, 'CASH'),
      amountFen: 1_000_000n,
      kind: 'DEPOSIT',
      businessDate: '2026-12-01',
    }));
    for (let i = 0; i < N - MEMBERS; i++) {
      const from = ids[next() % MEMBERS];
      let to = ids[next() % MEMBERS];
      if (to === from) to = ids[(ids.indexOf(from) + 1) % MEMBERS];
      const hot = i % 10 === 0;
      requests.push({
        idempotencyKey: `bulk-${i}`,
        debit: memberAccount(from, 'CASH'),
        credit: hot ? HOUSE.ccpSettlement : memberAccount(to, 'CASH'),
        amountFen: BigInt(1 + (next() % 100)),
        kind: hot ? 'VARIATION_MARGIN' : 'ADJUSTMENT',
        businessDate: '2026-12-01',
      });
    }
    for (const r of requests) {
      add(r.debit, -r.amountFen);
      add(r.credit, r.amountFen);
    }

    const progress: number[] = [];
    const ledger = t.app.get(LedgerService);
    const result = await t.prisma.$transaction((tx) => ledger.postBatch(tx, requests, (done) => progress.push(done)), { timeout: 120_000 });
    expect(result).toEqual({ requested: N, inserted: N, replayed: 0 });
    expect(progress.at(-1)).toBe(N);

    const actual = await t.prisma.ledgerAccount.findMany({ where: { code: { in: [...expected.keys()] } } });
    expect(actual).toHaveLength(expected.size);
    for (const a of actual) expect([a.code, a.balanceFen]).toEqual([a.code, expected.get(a.code)]);
    await expectLedgerConsistent(t.prisma);

    const replay = await t.prisma.$transaction((tx) => ledger.postBatch(tx, requests), { timeout: 120_000 });
    expect(replay).toEqual({ requested: N, inserted: 0, replayed: N });
    const after = await t.prisma.ledgerAccount.findMany({ where: { code: { in: [...expected.keys()] } } });
    const byCode = (rows: { code: string; balanceFen: bigint }[]) =>
      rows.map((a) => [a.code, a.balanceFen] as const).sort((x, y) => x[0].localeCompare(y[0]));
    expect(byCode(after)).toEqual(byCode(actual));
    expect(await t.prisma.transfer.count()).toBe(N);
  }, 180_000);

  it('refuses a whole batch when one account would go below zero', async () => {
    const [m] = await t.prisma.$queryRaw<{ id: string }[]>`SELECT id FROM members WHERE name = 'bulk-1'`;
    const before = await t.prisma.transfer.count();
    const ledger = t.app.get(LedgerService);
    const batch: TransferRequest[] = [
      {
        idempotencyKey: 'ok-1',
        debit: HOUSE.bankSettlement,
        credit: memberAccount(m.id, 'MARGIN'),
        amountFen: 5n,
        kind: 'ADJUSTMENT',
        businessDate: '2026-12-01',
      },
      {
        idempotencyKey: 'too-much',
        debit: memberAccount(m.id, 'MARGIN'),
        credit: HOUSE.ccpSettlement,
        amountFen: 6n,
        kind: 'ADJUSTMENT',
        businessDate: '2026-12-01',
      },
    ];
    await expect(t.prisma.$transaction((tx) => ledger.postBatch(tx, batch))).rejects.toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
    expect(await t.prisma.transfer.count()).toBe(before);
  });
});
