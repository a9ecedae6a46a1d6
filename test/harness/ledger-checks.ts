import { expect } from 'vitest';
import type { PrismaService } from '../../src/platform/prisma/prisma.service.js';

/** The ledger invariants, recomputed in SQL independently of the code that maintains them. */
export async function expectLedgerConsistent(prisma: PrismaService): Promise<void> {
  const [sum] = await prisma.$queryRaw<{ total: bigint }[]>`SELECT COALESCE(sum("balanceFen"), 0)::bigint AS total FROM ledger_accounts`;
  expect(sum.total).toBe(0n);
  const drift = await prisma.$queryRaw<{ code: string; balance: bigint; recomputed: bigint }[]>`
    SELECT a.code, a."balanceFen" AS balance,
           (COALESCE((SELECT sum("amountFen") FROM transfers WHERE "creditAccountId" = a.id), 0)
          - COALESCE((SELECT sum("amountFen") FROM transfers WHERE "debitAccountId" = a.id), 0))::bigint AS recomputed
    FROM ledger_accounts a`;
  expect(drift.filter((d) => d.balance !== d.recomputed)).toEqual([]);
  const negative = await prisma.$queryRaw<{ code: string }[]>`
    SELECT code FROM ledger_accounts WHERE "mustNotGoNegative" AND type <> 'CASH' AND "balanceFen" < 0`;
  expect(negative).toEqual([]);
}
