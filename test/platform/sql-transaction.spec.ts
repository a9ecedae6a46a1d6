import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerService } from '../../src/ledger/ledger.service.js';
import { memberAccount, type TransferRequest } from '../../src/ledger/ledger.types.js';
import { DomainError } from '../../src/platform/errors/error-codes.js';
import { inOrder } from '../../src/platform/prisma/sql-tx.js';
import { createMember, type TestMember } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { fund } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

/**
 * The order path's transactions are pipelined: statements go out together and the COMMIT follows
 * them in the same round trip. What must hold is what holds without pipelining: all or nothing.
 */
describe('pipelined SQL transactions (PrismaService.sqlTransaction)', () => {
  let t: TestApp;
  let ledger: LedgerService;
  let member: TestMember;
  const rows = async () => (await t.prisma.$queryRaw<{ id: number }[]>`SELECT id FROM pipeline_probe ORDER BY id`).map((r) => r.id);
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'resolved',
      (e: unknown) => (e instanceof DomainError ? e.code : ((e as { code?: string }).code ?? String(e))),
    );
  const take = (amountFen: bigint, key: string, debit = memberAccount(member.id, 'CASH')): TransferRequest => ({
    idempotencyKey: key,
    debit,
    credit: memberAccount(member.id, 'MARGIN'),
    amountFen,
    kind: 'MARGIN_LOCK',
    businessDate: '2026-11-26',
  });
  const transfersWithKey = async (key: string) =>
    (await t.prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM transfers WHERE "idempotencyKey" = ${key}`)[0].n;

  beforeAll(async () => {
    t = await startTestApp();
    ledger = t.app.get(LedgerService);
    await t.prisma.$executeRawUnsafe('CREATE TABLE pipeline_probe (id int PRIMARY KEY)');
    member = await createMember(t, 'TRADER');
    await fund(t, member, '10.00');
  });
  afterAll(async () => t?.close());

  it('statements sent together, COMMIT included, commit together', async () => {
    await t.prisma.sqlTransaction(async (tx, commit) => {
      await inOrder([
        tx.$executeRaw`INSERT INTO pipeline_probe VALUES (1)`,
        tx.$executeRaw`INSERT INTO pipeline_probe VALUES (2)`,
        commit(),
      ]);
    });
    expect(await rows()).toEqual([1, 2]);
  });

  it('statements issued in the same tick leave in one socket write (BEGIN and COMMIT with them)', async () => {
    type Stream = { write: (...a: unknown[]) => boolean; uncork: () => void; writableCorked: number };
    // The writes that reach the socket of the connection the transaction checks out: a write
    // while corked is only buffered, and the last uncork puts what was buffered out at once.
    let onWire = 0;
    let watched: Stream | undefined;
    const watch = (client: unknown) => {
      const stream = (client as { connection: { stream: Stream } }).connection.stream;
      if (watched) return;
      watched = stream;
      const { write, uncork } = stream;
      stream.write = (...a: unknown[]) => {
        if (stream.writableCorked === 0) onWire++;
        return write.apply(stream, a);
      };
      stream.uncork = () => {
        if (stream.writableCorked === 1) onWire++;
        uncork.apply(stream);
      };
    };
    t.prisma.pool.once('acquire', watch);
    let sent = -1;
    await t.prisma.sqlTransaction(async (tx, commit) => {
      await inOrder([
        tx.$executeRaw`INSERT INTO pipeline_probe VALUES (11)`,
        tx.$executeRaw`INSERT INTO pipeline_probe VALUES (12)`,
        commit(),
      ]);
      sent = onWire;
    });
    expect(await rows()).toEqual(expect.arrayContaining([11, 12]));
    await t.prisma.$executeRawUnsafe('DELETE FROM pipeline_probe WHERE id IN (11, 12)');
    // BEGIN, two INSERTs and COMMIT: one write (pg alone writes each statement on its own: four).
    expect(sent).toBe(1);
  });

  it('a statement that fails takes the ones behind it and the COMMIT with it; the first error is reported; connections stay usable', async () => {
    const failed = t.prisma.sqlTransaction(async (tx, commit) => {
      await inOrder([
        tx.$executeRaw`INSERT INTO pipeline_probe VALUES (3)`,
        tx.$executeRaw`INSERT INTO pipeline_probe VALUES (1)`,
        tx.$executeRaw`INSERT INTO pipeline_probe VALUES (4)`,
        commit(),
      ]);
    });
    expect(await codeOf(failed)).toBe('23505');
    expect(await rows()).toEqual([1, 2]);
    // More transactions at once than the pool has connections (20), so every pooled connection,
    // the one that failed included, runs one: none of them inherited a broken state.
    const states = await Promise.all(
      Array.from({ length: 25 }, () =>
        t.prisma.sqlTransaction(
          async (tx) =>
            (await tx.$queryRaw<{ s: string }[]>`SELECT current_setting('transaction_isolation') AS s, pg_sleep(0.05)::text`)[0].s,
        ),
      ),
    );
    expect(states).toEqual(Array(25).fill('read committed'));
    await t.prisma.sqlTransaction((tx) => tx.$executeRaw`INSERT INTO pipeline_probe VALUES (5)`);
    expect(await rows()).toEqual([1, 2, 5]);
  });

  it('a JavaScript error before the COMMIT rolls back what was sent', async () => {
    const failed = t.prisma.sqlTransaction(async (tx) => {
      await tx.$executeRaw`INSERT INTO pipeline_probe VALUES (6)`;
      throw new Error('changed my mind');
    });
    expect(await codeOf(failed)).toBe('Error: changed my mind');
    expect(await rows()).toEqual([1, 2, 5]);
  });

  it('the ledger refuses inside its own statement, so a COMMIT pipelined behind a refused posting commits nothing', async () => {
    const refused = t.prisma.sqlTransaction(async (tx, commit) => {
      await inOrder([
        tx.$executeRaw`INSERT INTO pipeline_probe VALUES (7)`,
        ledger.postBatch(tx, [take(400n, 'probe.ok'), take(700n, 'probe.too-much')]),
        commit(),
      ]);
    });
    expect(await codeOf(refused)).toBe('INSUFFICIENT_FUNDS');
    expect(await rows()).toEqual([1, 2, 5]);
    expect(await transfersWithKey('probe.ok')).toBe(0);
    expect((await t.clearing.get<Record<string, string>>(`/v1/members/${member.id}/balances`)).body).toMatchObject({
      cash: '10.00',
      margin: '0.00',
    });

    const unknown = t.prisma.sqlTransaction(async (tx, commit) => {
      await inOrder([ledger.postBatch(tx, [take(1n, 'probe.unknown', 'cash:no-such-member')]), commit()]);
    });
    expect(await codeOf(unknown)).toBe('ACCOUNT_NOT_FOUND');
    await expectLedgerConsistent(t.prisma);
  });

  it('the same refusals reach callers that post through Prisma', async () => {
    expect(await codeOf(t.prisma.$transaction((tx) => ledger.post(tx, [take(1_001n, 'probe.prisma')])))).toBe('INSUFFICIENT_FUNDS');
    expect(await codeOf(t.prisma.$transaction((tx) => ledger.post(tx, [take(1n, 'probe.prisma.unknown', 'cash:no-such-member')])))).toBe(
      'ACCOUNT_NOT_FOUND',
    );
    expect(await transfersWithKey('probe.prisma')).toBe(0);
    // And a posting that fits still goes through.
    await t.prisma.$transaction((tx) => ledger.post(tx, [take(1_000n, 'probe.fits')]));
    expect((await t.clearing.get<Record<string, string>>(`/v1/members/${member.id}/balances`)).body).toMatchObject({
      cash: '0.00',
      margin: '10.00',
    });
    await expectLedgerConsistent(t.prisma);
  });
});
