import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tx } from '../../src/platform/prisma/prisma.service.js';
import { TransactionRunner } from '../../src/platform/prisma/transaction-runner.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

// TransactionRunner.run(fn, { jit: false }): the batch passes (daily settlement, reconciliation)
// plan without JIT. The setting must hold inside the transaction only: the pool hands the same
// connections to every other caller, which must find the server's default again.
describe('TransactionRunner: a transaction planned without JIT', () => {
  let t: TestApp;
  let runner: TransactionRunner;
  const jitOf = async (db: Tx | TestApp['prisma']) => (await db.$queryRaw<{ jit: string }[]>`SHOW jit`)[0].jit;
  /** Every connection of the pool (two), held at once, each asked for its setting. */
  const everyConnection = async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    const both = [0, 1].map(() =>
      runner.run(async (tx) => {
        seen.push(await jitOf(tx));
        if (seen.length === 2) release();
        await held;
      }),
    );
    await Promise.all(both);
    return seen;
  };

  beforeAll(async () => {
    t = await startTestApp({ env: { DATABASE_POOL_MAX: '2' } });
    runner = t.app.get(TransactionRunner);
  });
  afterAll(() => t.close());

  it('plans without JIT inside, and leaves every pooled connection at the server default after', async () => {
    expect(await everyConnection(), 'the server default this test relies on').toEqual(['on', 'on']);
    expect(await runner.run((tx) => jitOf(tx), { jit: false })).toBe('off');
    expect(await runner.run((tx) => jitOf(tx))).toBe('on');
    expect(await everyConnection()).toEqual(['on', 'on']);
  });

  it('a transaction without JIT that fails rolls back its writes and leaves the connection as it found it', async () => {
    await t.prisma.$executeRawUnsafe('CREATE TABLE jit_probe (id int PRIMARY KEY)');
    const failed = runner.run(
      async (tx) => {
        await tx.$executeRaw`INSERT INTO jit_probe VALUES (1)`;
        expect(await jitOf(tx)).toBe('off');
        throw new Error('refused');
      },
      { jit: false, timeout: 10_000 },
    );
    await expect(failed).rejects.toThrow('refused');
    expect(await t.prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM jit_probe`).toEqual([{ n: 0 }]);
    expect(await everyConnection()).toEqual(['on', 'on']);
  });
});
