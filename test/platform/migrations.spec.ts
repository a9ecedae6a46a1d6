import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { PRISMA_DIR, applyMigrations, diffMigrationsToSchema } from '../../src/platform/prisma/migrator.js';
import { PARTITIONED_KEY_DRIFT, withoutAcceptedDrift } from '../../src/platform/prisma/partitioned-drift.js';
import { createTestDatabase } from '../harness/databases.js';

describe('migrations (WASM schema engine, no binary)', () => {
  const admin = () => inject('adminDatabaseUrl');

  it('schema.prisma and prisma/migrations agree (drift check)', async () => {
    const drift = await diffMigrationsToSchema(admin());
    expect(drift, `schema.prisma has changes without a migration; run npm run db:migration:new -- <name>\n${drift}`).toBe('');
  });

  it('detects drift when the schema changes without a migration', async () => {
    const schema = await readFile(join(PRISMA_DIR, 'schema.prisma'), 'utf8');
    const changed = schema.replace('model Member {', 'model Member {\n  nickname String?');
    const drift = await diffMigrationsToSchema(admin(), changed);
    expect(drift).toMatch(/ALTER TABLE "members" ADD COLUMN\s+"nickname" TEXT/);
  });

  it("accepts exactly the partitioned tables' key differences: other drift on those tables still fails", async () => {
    const schema = await readFile(join(PRISMA_DIR, 'schema.prisma'), 'utf8');
    const changed = schema.replace('  @@index([settlementRunId])\n', '  @@index([settlementRunId])\n  @@index([kind])\n');
    expect(changed).not.toBe(schema);
    const drift = await diffMigrationsToSchema(admin(), changed);
    expect(drift).toMatch(/CREATE INDEX "transfers_kind_idx" ON "transfers"\("kind"\)/);
    expect(drift).not.toMatch(/transfers_pkey|transfers_idempotencyKey_key/);
    // The filter drops only those statements, whole, and keeps anything else beside them.
    const script = [
      ...PARTITIONED_KEY_DRIFT.map((s) => `-- Accepted\n${s}`),
      '-- DropIndex\nDROP INDEX "transfers_settlementRunId_idx";',
    ].join('\n\n');
    expect(withoutAcceptedDrift(script).trim()).toBe('-- DropIndex\nDROP INDEX "transfers_settlementRunId_idx";');
    expect(
      withoutAcceptedDrift(
        '-- AlterTable\nALTER TABLE "transfers" DROP CONSTRAINT "transfers_pkey",\nADD CONSTRAINT "transfers_pkey" PRIMARY KEY ("seq");',
      ),
    ).toContain('PRIMARY KEY ("seq")');
  });

  it('applies migrations once, recording them as prisma migrate deploy does', async () => {
    const db = await createTestDatabase(admin(), 'template0');
    try {
      const first = await applyMigrations(db.url);
      expect(first.length).toBeGreaterThan(0);
      expect(await applyMigrations(db.url)).toEqual([]);
      const pg = (await import('pg')).default;
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const rows = await client.query(
        'SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY migration_name',
      );
      await client.end();
      expect(rows.rows.map((r: { migration_name: string }) => r.migration_name)).toEqual(first);
      for (const r of rows.rows as { checksum: string; finished_at: Date | null; rolled_back_at: Date | null }[]) {
        expect(r.checksum).toMatch(/^[0-9a-f]{64}$/);
        expect(r.finished_at).not.toBeNull();
        expect(r.rolled_back_at).toBeNull();
      }
    } finally {
      await db.drop();
    }
  });
});
