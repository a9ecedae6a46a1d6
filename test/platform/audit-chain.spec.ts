import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, ensureTemplate } from '../harness/databases.js';

// The audit trail's hash chain (SPEC §6.2) is kept by triggers: the lock and the previous hash
// once per statement, each row chained on the one before. Whoever writes and however — many rows
// in one statement, many connections at once, straight into a month's partition, a savepoint
// rolled back — every event links to the one before it by seq, and no two link to the same one.
describe('the audit chain, written by the database', () => {
  let db: { url: string; drop: () => Promise<void> };
  // Plain clients, each ended before the database is dropped (a pool's end() does not wait for
  // its sockets to close, and the drop then terminates them mid-goodbye).
  let clients: pg.Client[] = [];
  let db0: pg.Client;

  const insert = (client: pg.Client, table: string, action: string, rows: number) =>
    client.query(
      `INSERT INTO ${table} (id, action, outcome) SELECT gen_random_uuid(), $1 || ':' || n, 'SUCCESS' FROM generate_series(1, $2::int) n`,
      [action, rows],
    );

  /** Links that do not hold: prevHash other than the previous event's hash, or a hash that is not of the event. */
  const brokenLinks = async () =>
    (
      await db0.query<{ n: number }>(`
        SELECT count(*)::int AS n FROM (
          SELECT e.hash, e."prevHash", lag(e.hash) OVER (ORDER BY e.seq) AS before,
                 encode(sha256(convert_to(audit_event_material(e), 'UTF8')), 'hex') AS recomputed
          FROM audit_events e) x
        WHERE x."prevHash" IS DISTINCT FROM x.before OR x.hash <> x.recomputed`)
    ).rows[0].n;

  beforeAll(async () => {
    const admin = inject('adminDatabaseUrl');
    db = await createTestDatabase(admin, await ensureTemplate(admin));
    clients = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const c = new pg.Client({ connectionString: db.url });
        await c.connect();
        return c;
      }),
    );
    db0 = clients[0];
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end()));
    await db?.drop();
  });

  it('many rows a statement, eight connections at once, a partition written directly, a savepoint rolled back: one unbroken chain', async () => {
    await insert(db0, 'audit_events', 'first', 3);
    const [{ first }] = (await db0.query<{ first: string | null }>(`SELECT "prevHash" AS first FROM audit_events ORDER BY seq LIMIT 1`))
      .rows;
    expect(first).toBeNull();

    await Promise.all(
      clients.map(async (client, c) => {
        for (let i = 0; i < 10; i++) await insert(client, 'audit_events', `client${c}.${i}`, 5);
      }),
    );

    // Straight into this month's partition: the parent's statement trigger does not fire.
    const [{ partition }] = (
      await db0.query<{ partition: string }>(`SELECT tableoid::regclass::text AS partition FROM audit_events LIMIT 1`)
    ).rows;
    expect(partition).toMatch(/^audit_events_y\d{4}m\d{2}$/);
    await insert(db0, partition, 'direct', 2);

    // A savepoint rolled back takes its events' hashes with it: the next event links to the last one kept.
    const client = clients[1];
    await client.query('BEGIN');
    await insert(client, 'audit_events', 'kept', 2);
    await client.query('SAVEPOINT s');
    await insert(client, 'audit_events', 'undone', 2);
    await client.query('ROLLBACK TO SAVEPOINT s');
    await insert(client, partition, 'after-rollback', 1);
    await insert(client, 'audit_events', 'after-rollback-parent', 1);
    await client.query('COMMIT');

    const [{ events, forks }] = (
      await db0.query<{ events: number; forks: number }>(
        `SELECT count(*)::int AS events, (count(*) - count(DISTINCT "prevHash") - 1)::int AS forks FROM audit_events`,
      )
    ).rows;
    expect(events).toBe(3 + 8 * 10 * 5 + 2 + 2 + 1 + 1);
    expect(forks).toBe(0);
    expect(await brokenLinks()).toBe(0);
    expect((await db0.query(`SELECT 1 FROM audit_events WHERE action LIKE 'undone:%'`)).rowCount).toBe(0);
  }, 60_000);

  it('a forged head left in the session (SET tokenclear.audit_prev) is not trusted: the next events still link to the real last one', async () => {
    const client = clients[2];
    const [{ partition }] = (
      await client.query<{ partition: string }>(`SELECT tableoid::regclass::text AS partition FROM audit_events LIMIT 1`)
    ).rows;
    const { rows: txid } = await client.query<{ tx: string }>(`SELECT txid_current()::text AS tx`);
    // Both forms a dishonest writer might try: a bare hash, and one tagged with a transaction id that has ended.
    for (const forged of ['f'.repeat(64), `${txid[0].tx}/${'e'.repeat(64)}`]) {
      await client.query(`SET tokenclear.audit_prev = '${forged}'`);
      await insert(client, partition, 'forged-direct', 1);
      await insert(client, 'audit_events', 'forged-parent', 1);
    }
    await client.query('RESET tokenclear.audit_prev');
    expect((await db0.query(`SELECT 1 FROM audit_events WHERE "prevHash" IN ('${'f'.repeat(64)}', '${'e'.repeat(64)}')`)).rowCount).toBe(0);
    expect(await brokenLinks()).toBe(0);
  });

  it('an edited event breaks the chain where it was edited (the check above is not vacuous)', async () => {
    await db0.query(`ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only`);
    await db0.query(`UPDATE audit_events SET action = 'forged' WHERE seq = (SELECT seq FROM audit_events ORDER BY seq LIMIT 1 OFFSET 10)`);
    await db0.query(`ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only`);
    expect(await brokenLinks()).toBe(1);
  });
});
