import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { applyMigrations, readMigrations } from '../../src/platform/prisma/migrator.js';

export function withDatabase(adminUrl: string, database: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A template database holding the current migrations; named by their hash so it is rebuilt on change. */
export async function ensureTemplate(adminUrl: string): Promise<string> {
  const migrations = await readMigrations();
  const hash = createHash('sha256').update(JSON.stringify(migrations.migrationDirectories)).digest('hex').slice(0, 12);
  const name = `tc_tpl_${hash}`;
  await admin(adminUrl, async (c) => {
    // Concurrent test runs must not build the same template twice.
    await c.query('SELECT pg_advisory_lock(hashtext($1))', [name]);
    try {
      const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.rowCount) return;
      const building = `${name}_building`;
      await c.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${building}`);
      await applyMigrations(withDatabase(adminUrl, building));
      await c.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
    } finally {
      await c.query('SELECT pg_advisory_unlock(hashtext($1))', [name]);
    }
  });
  return name;
}

/** A fresh database cloned from the template: migrated, empty, private to one test file. */
export async function createTestDatabase(adminUrl: string, template: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `tc_test_${randomBytes(6).toString('hex')}`;
  await admin(adminUrl, (c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
  return {
    url: withDatabase(adminUrl, name),
    drop: () => admin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** An identical copy of a database (nothing may be connected to the source meanwhile). */
export async function cloneDatabase(adminUrl: string, sourceUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const source = new URL(sourceUrl).pathname.slice(1);
  const name = `tc_test_${randomBytes(6).toString('hex')}`;
  await admin(adminUrl, (c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${source}`));
  return {
    url: withDatabase(adminUrl, name),
    drop: () => admin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}
