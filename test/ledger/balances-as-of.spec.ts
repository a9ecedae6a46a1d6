import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerRepository } from '../../src/ledger/ledger.repository.js';
import { LedgerService } from '../../src/ledger/ledger.service.js';
import { HOUSE, memberAccount } from '../../src/ledger/ledger.types.js';
import { createMember } from '../harness/factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

describe('balances as of a business date (statements groundwork)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('derives each account balance at the end of any business date from transfers alone', async () => {
    const m = await createMember(t, 'TRADER');
    const ledger = t.app.get(LedgerService);
    const cash = memberAccount(m.id, 'CASH');
    const margin = memberAccount(m.id, 'MARGIN');
    await t.prisma.$transaction((tx) =>
      ledger.post(tx, [
        {
          idempotencyKey: 'd1',
          debit: HOUSE.bankSettlement,
          credit: cash,
          amountFen: 10_000n,
          kind: 'DEPOSIT',
          businessDate: '2026-12-01',
        },
        { idempotencyKey: 'm1', debit: cash, credit: margin, amountFen: 2_500n, kind: 'MARGIN_LOCK', businessDate: '2026-12-02' },
        {
          idempotencyKey: 'v1',
          debit: cash,
          credit: HOUSE.ccpSettlement,
          amountFen: 300n,
          kind: 'VARIATION_MARGIN',
          businessDate: '2026-12-03',
        },
      ]),
    );
    const repo = t.app.get(LedgerRepository);
    const at = async (d: string) => Object.fromEntries((await repo.balancesAsOf(t.prisma, m.id, d)).map((b) => [b.type, b.balanceFen]));
    expect(await at('2026-11-30')).toMatchObject({ CASH: 0n, MARGIN: 0n });
    expect(await at('2026-12-01')).toMatchObject({ CASH: 10_000n, MARGIN: 0n });
    expect(await at('2026-12-02')).toMatchObject({ CASH: 7_500n, MARGIN: 2_500n });
    expect(await at('2026-12-03')).toMatchObject({ CASH: 7_200n, MARGIN: 2_500n, ESCROW: 0n, PENDING: 0n });
    // The last business date agrees with the maintained balance.
    expect((await m.client.get(`/v1/members/${m.id}/balances`)).body).toMatchObject({ cash: '72.00', margin: '25.00' });
  });

  it('answers from the (account, business date) indexes, not a scan of all transfers', async () => {
    // On a small table the planner rightly prefers a scan; forbid it to prove the index serves the query.
    const plan = await t.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe('SET LOCAL enable_seqscan = off');
      return tx.$queryRawUnsafe<{ 'QUERY PLAN': string }[]>(
        `EXPLAIN SELECT sum("amountFen") FROM transfers WHERE "creditAccountId" = '00000000-0000-4000-8000-000000000000' AND "businessDate" <= '2026-12-01'`,
      );
    });
    // transfers is partitioned by month: each partition answers from its copy of the index.
    const text = plan.map((p) => p['QUERY PLAN']).join('\n');
    expect(text).toMatch(/transfers_y\d{4}m\d{2}_creditAccountId_businessDate_idx/);
    expect(text).not.toMatch(/Seq Scan/);
  });
});
