import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../harness/test-app.js';

/** Every index an EXPLAIN (FORMAT JSON) plan reads, and the relations it scans whole. */
function accessPaths(plan: unknown, out = { indexes: new Set<string>(), seqScans: new Set<string>() }) {
  if (Array.isArray(plan)) plan.forEach((p) => accessPaths(p, out));
  else if (plan && typeof plan === 'object') {
    const node = plan as Record<string, unknown>;
    if (typeof node['Index Name'] === 'string') out.indexes.add(node['Index Name']);
    if (node['Node Type'] === 'Seq Scan' && typeof node['Relation Name'] === 'string') out.seqScans.add(node['Relation Name']);
    Object.values(node).forEach((v) => accessPaths(v, out));
  }
  return out;
}

/**
 * The ESCROW check reads an obligation's escrow moves through the partial index on
 * transfers("obligationId"), not by scanning the whole ledger, most of which is not an
 * obligation's (variation margin, fees, deposits).
 */
describe('the escrow moves of obligations, found by index', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it("a ledger of 20,000 transfers, none an obligation's: the escrow read takes the index, no partition is scanned whole", async () => {
    // A ledger's statistics: 20,000 postings between two house accounts, none naming an obligation.
    await t.prisma.$executeRawUnsafe(`
      INSERT INTO transfers (id, "idempotencyKey", "debitAccountId", "creditAccountId", "amountFen", kind, "businessDate")
      SELECT gen_random_uuid(), 'escrow-index-' || i, d.id, c.id, 1, 'FEE', current_date
      FROM generate_series(1, 20000) i, ledger_accounts d, ledger_accounts c
      WHERE d.code = 'ccp:settlement' AND c.code = 'ccp:fees'`);
    await t.prisma.$executeRawUnsafe('ANALYZE transfers');
    const [{ 'QUERY PLAN': plan }] = await t.prisma.$queryRawUnsafe<{ 'QUERY PLAN': unknown }[]>(
      `EXPLAIN (FORMAT JSON) SELECT "obligationId", kind::text AS kind, "amountFen" FROM transfers WHERE "obligationId" IS NOT NULL`,
    );
    const paths = accessPaths(plan);
    expect(
      [...paths.indexes].some((i) => /^transfers_.+_obligationId_idx$/.test(i)),
      JSON.stringify(plan),
    ).toBe(true);
    // The month's partition holding the 20,000 rows is not read whole.
    const month = await t.prisma.$queryRawUnsafe<{ relname: string }[]>(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'transfers'::regclass AND c.reltuples >= 20000`,
    );
    expect(month).toHaveLength(1);
    expect([...paths.seqScans]).not.toContain(month[0].relname);
  });
});
