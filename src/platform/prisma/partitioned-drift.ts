// transfers, usage_records and audit_events are partitioned by month of "createdAt" (migration
// 20261205034226_partitioned_history). Postgres requires a partitioned table's primary key and
// unique indexes to contain the partition key, which Prisma cannot model without losing
// `findUnique` by id / jobId; the global uniqueness lives in transfer_keys and usage_keys. So the
// diff from the migrations to schema.prisma always proposes these statements, and exactly these
// are not drift. Anything else — another table, another index of these tables — still is.
export const PARTITIONED_KEY_DRIFT: readonly string[] = [
  'DROP INDEX "audit_events_id_key";',
  'DROP INDEX "usage_records_jobId_key";',
  'ALTER TABLE "audit_events" DROP CONSTRAINT "audit_events_pkey", ADD CONSTRAINT "audit_events_pkey" PRIMARY KEY ("seq");',
  'ALTER TABLE "transfers" DROP CONSTRAINT "transfers_pkey", ADD CONSTRAINT "transfers_pkey" PRIMARY KEY ("id");',
  'ALTER TABLE "usage_records" DROP CONSTRAINT "usage_records_pkey", ADD CONSTRAINT "usage_records_pkey" PRIMARY KEY ("id");',
  'CREATE UNIQUE INDEX "audit_events_id_key" ON "audit_events"("id");',
  'CREATE UNIQUE INDEX "transfers_idempotencyKey_key" ON "transfers"("idempotencyKey");',
  'CREATE UNIQUE INDEX "usage_records_jobId_key" ON "usage_records"("jobId");',
];

// transfers' accounts are checked per statement, not by foreign keys (migration
// 20261206000500_ledger_statement_checks: a foreign-key lookup per row was 30 % of a batch's
// posting). schema.prisma keeps the relations (Prisma's includes need them), so the diff always
// proposes the two constraints back, and exactly these are not drift.
export const LEDGER_FOREIGN_KEY_DRIFT: readonly string[] = [
  'ALTER TABLE "transfers" ADD CONSTRAINT "transfers_debitAccountId_fkey" FOREIGN KEY ("debitAccountId") REFERENCES "ledger_accounts"("id") ON DELETE RESTRICT ON UPDATE RESTRICT;',
  'ALTER TABLE "transfers" ADD CONSTRAINT "transfers_creditAccountId_fkey" FOREIGN KEY ("creditAccountId") REFERENCES "ledger_accounts"("id") ON DELETE RESTRICT ON UPDATE RESTRICT;',
];

const normalize = (statement: string) => statement.replace(/\s+/g, ' ').trim();
const ACCEPTED = new Set([...PARTITIONED_KEY_DRIFT, ...LEDGER_FOREIGN_KEY_DRIFT].map(normalize));

/** The diff script without the accepted statements above (each comes as a `-- Comment` line and one statement). */
export function withoutAcceptedDrift(script: string): string {
  const blocks = script.split(/\n\s*\n(?=-- )/);
  return blocks
    .filter((block) => {
      const statement = block
        .split('\n')
        .filter((line) => !line.startsWith('--'))
        .join(' ');
      return !ACCEPTED.has(normalize(statement));
    })
    .join('\n\n');
}
