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

  it('binds every column whole: awkward keys and references, a ref on one row only, on Prisma and on pg transactions', async () => {
    const [m] = await t.prisma.$queryRaw<{ id: string }[]>`
      INSERT INTO members (id, name, kind, "updatedAt") VALUES (gen_random_uuid(), 'awkward', 'TRADER', now()) RETURNING id`;
    await t.prisma.$executeRaw`
      INSERT INTO ledger_accounts (id, code, "memberId", type, "mustNotGoNegative")
      VALUES (gen_random_uuid(), ${memberAccount(m.id, 'CASH')}, ${m.id}::uuid, 'CASH', true)`;
    const ledger = t.app.get(LedgerService);
    // What an array literal must escape or could mistake: quotes, backslashes, separators,
    // braces, the word NULL, the empty string, spaces and text beyond ASCII.
    const awkward = ['q"uote', 'back\\slash', 'com,ma', '{brace}', 'NULL', '', ' spaced ', '元 ☃ 𝄞', 'a"b\\c,d{e}'];
    const runId = '00000000-0000-4000-8000-000000000001';
    const batch = (prefix: string): TransferRequest[] =>
      awkward.map((text, i) => ({
        idempotencyKey: `${prefix}-${text}-${i}`,
        debit: HOUSE.bankSettlement,
        credit: memberAccount(m.id, 'CASH'),
        amountFen: BigInt(i + 1),
        kind: 'ADJUSTMENT',
        businessDate: i % 2 === 0 ? '2026-12-01' : '2026-12-02',
        // Only the third row names a run, and only every other row a reference.
        ...(i === 2 ? { refs: { settlementRunId: runId } } : {}),
        ...(i % 2 === 0 ? { reference: text } : {}),
      }));
    const check = (posted: Awaited<ReturnType<LedgerService['post']>>, sent: TransferRequest[]) => {
      expect(posted.map((p) => [p.idempotencyKey, p.amountFen, p.businessDate, p.reference, p.refs.settlementRunId ?? null])).toEqual(
        sent.map((r) => [r.idempotencyKey, r.amountFen, r.businessDate, r.reference ?? null, r.refs?.settlementRunId ?? null]),
      );
    };
    const onPrisma = batch('prisma');
    check(await t.prisma.$transaction((tx) => ledger.post(tx, onPrisma)), onPrisma);
    const onPg = batch('pg');
    check(await t.prisma.sqlTransaction((tx) => ledger.post(tx, onPg)), onPg);
    // Replayed whole on the other kind of transaction: the same keys, nothing moves.
    const before = await t.prisma.transfer.count();
    check(await t.prisma.sqlTransaction((tx) => ledger.post(tx, onPrisma)), onPrisma);
    expect(await t.prisma.transfer.count()).toBe(before);
    await expectLedgerConsistent(t.prisma);
  });

  it('a transfer collected by right cannot carry an ordinary one below zero with it, in the same batch or on the same account', async () => {
    const [x, y] = await t.prisma.$queryRaw<{ id: string }[]>`
      INSERT INTO members (id, name, kind, "updatedAt") SELECT gen_random_uuid(), 'forced-' || g, 'TRADER', now() FROM generate_series(1, 2) g RETURNING id`;
    await t.prisma.$executeRaw`
      INSERT INTO ledger_accounts (id, code, "memberId", type, "mustNotGoNegative")
      SELECT gen_random_uuid(), 'member:' || m.id || ':cash', m.id, 'CASH', true FROM members m WHERE m.name LIKE 'forced-%'`;
    const ledger = t.app.get(LedgerService);
    const take = (key: string, member: string, fen: bigint, collectByRight: boolean): TransferRequest => ({
      idempotencyKey: key,
      debit: memberAccount(member, 'CASH'),
      credit: HOUSE.ccpSettlement,
      amountFen: fen,
      kind: 'VARIATION_MARGIN',
      businessDate: '2026-12-01',
      ...(collectByRight ? { collectByRight: true } : {}),
    });
    const before = await t.prisma.transfer.count();
    // x owes by right and may go below zero; y's ordinary debit rides in the same batch.
    await expect(
      t.prisma.$transaction((tx) => ledger.postBatch(tx, [take('forced-x', x.id, 5n, true), take('ordinary-y', y.id, 5n, false)])),
    ).rejects.toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
    // Both on x's account: the ordinary debit is not excused by the forced one beside it.
    await expect(
      t.prisma.$transaction((tx) => ledger.postBatch(tx, [take('forced-x2', x.id, 5n, true), take('ordinary-x', x.id, 5n, false)])),
    ).rejects.toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
    expect(await t.prisma.transfer.count()).toBe(before);
    // Alone, the collection by right goes through and leaves x below zero, as it must.
    await t.prisma.$transaction((tx) => ledger.postBatch(tx, [take('forced-x3', x.id, 5n, true)]));
    const [cash] = await t.prisma.ledgerAccount.findMany({ where: { code: memberAccount(x.id, 'CASH') } });
    expect(cash.balanceFen).toBe(-5n);
    await expectLedgerConsistent(t.prisma);
  });
});
