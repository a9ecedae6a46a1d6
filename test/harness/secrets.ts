import type { TestApp } from './test-app.js';

/**
 * Every place in the database where `secret` appears in clear: each text, varchar and json
 * column of every table searched. Used to prove secrets are stored only as hashes.
 */
export async function wherePlaintext(t: TestApp, secret: string): Promise<string[]> {
  const columns = await t.prisma.$queryRaw<{ table_name: string; column_name: string }[]>`
    SELECT table_name, column_name FROM information_schema.columns
    WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'json', 'jsonb', 'ARRAY')`;
  const found: string[] = [];
  for (const c of columns) {
    const rows = await t.prisma.$queryRawUnsafe<{ n: bigint }[]>(
      `SELECT count(*) AS n FROM "${c.table_name}" WHERE "${c.column_name}"::text LIKE '%' || $1 || '%'`,
      secret,
    );
    if (rows[0].n > 0n) found.push(`${c.table_name}.${c.column_name}`);
  }
  return found;
}
