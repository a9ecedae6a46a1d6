import { Injectable } from '@nestjs/common';
import type { Db, Tx } from '../platform/prisma/prisma.service.js';
import { ESCROW_HELD_FEN } from './checks.repository.js';

/** A month as its first day (UTC), and the names of its partitions / archived tables. */
export interface MonthTables {
  month: string;
  transfers: string;
  usage: string;
  audit: string;
}

export function monthTables(month: string): MonthTables {
  // Validated by the caller (YYYY-MM); the names go into DDL, so they are checked here too.
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  if (!m) throw new Error(`bad month ${month}`);
  const suffix = `_y${m[1]}m${m[2]}`;
  return { month: `${month}-01`, transfers: `transfers${suffix}`, usage: `usage_records${suffix}`, audit: `audit_events${suffix}` };
}

export interface ArchiveMismatch {
  what: string;
  key: string;
  recorded: string;
  archived: string;
}

/**
 * Detaching a month of transfers, usage records and audit events into the `archive` schema, with
 * the totals the live checks carry forward; and re-deriving those totals from the archive.
 */
@Injectable()
export class MonthArchiveRepository {
  /** Rows older than the month in any of the three live tables (months are archived oldest first). */
  async liveRowsBefore(db: Db, month: string): Promise<boolean> {
    const [{ older }] = await db.$queryRaw<{ older: boolean }[]>`
      SELECT EXISTS (SELECT 1 FROM transfers WHERE "createdAt" < (${month}::date::timestamp AT TIME ZONE 'UTC'))
          OR EXISTS (SELECT 1 FROM usage_records WHERE "createdAt" < (${month}::date::timestamp AT TIME ZONE 'UTC'))
          OR EXISTS (SELECT 1 FROM audit_events WHERE "createdAt" < (${month}::date::timestamp AT TIME ZONE 'UTC')) AS older`;
    return older;
  }

  /** Whether all three tables have an attached partition of their own for the month. */
  async hasPartitions(db: Db, t: MonthTables): Promise<boolean> {
    const [{ n }] = await db.$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(${[t.transfers, t.usage, t.audit]}::text[])`;
    return n === 3;
  }

  isArchived(db: Db, month: string): Promise<boolean> {
    return db.archivedMonth.findUnique({ where: { month: new Date(`${month}T00:00:00Z`) } }).then((m) => m !== null);
  }

  /**
   * In the caller's transaction: detaches the three partitions (a plain DETACH, which locks the
   * parents briefly: CONCURRENTLY cannot run in a transaction nor beside a DEFAULT partition),
   * moves them to `archive`, makes them read-only (detaching drops the cloned row triggers) and
   * records what they hold.
   */
  async archive(tx: Tx, t: MonthTables): Promise<void> {
    for (const [parent, table] of [
      ['transfers', t.transfers],
      ['usage_records', t.usage],
      ['audit_events', t.audit],
    ] as const) {
      await tx.$executeRawUnsafe(`ALTER TABLE public."${parent}" DETACH PARTITION public."${table}"`);
      await tx.$executeRawUnsafe(`ALTER TABLE public."${table}" SET SCHEMA archive`);
      await tx.$executeRawUnsafe(
        `CREATE TRIGGER archive_read_only BEFORE UPDATE OR DELETE ON archive."${table}" FOR EACH ROW EXECUTE FUNCTION archive_refuse_change()`,
      );
    }
    const totals = this.derived(t);
    await tx.$executeRawUnsafe(
      `INSERT INTO archived_months (month, "transferRows", "transferAmountFen", "usageRows", "auditRows", "auditFirstPrevHash", "auditLastHash")
       SELECT $1::date, "transferRows", "transferAmountFen", "usageRows", "auditRows", "auditFirstPrevHash", "auditLastHash" FROM (${totals.month}) m`,
      t.month,
    );
    await tx.$executeRawUnsafe(
      `INSERT INTO archived_totals (month, scope, key, amount) SELECT $1::date, scope::"ArchivedTotalScope", key, amount FROM (${totals.perKey}) k`,
      t.month,
    );
  }

  /**
   * The archived month re-derived from its tables against what was recorded when it was archived:
   * row counts, the sum of amounts, every account's and obligation's total, the audit chain inside
   * the month and its links to the events either side, and every archived transfer still owning
   * its idempotency key.
   */
  async mismatches(db: Db, t: MonthTables): Promise<{ rowsExamined: number; mismatches: ArchiveMismatch[] }> {
    const totals = this.derived(t);
    const rows = await db.$queryRawUnsafe<ArchiveMismatch[]>(
      `WITH recorded AS (SELECT * FROM archived_months WHERE month = $1::date), derived AS (${totals.month})
       SELECT 'month' AS what, f AS key, r AS recorded, d AS archived FROM recorded, derived, LATERAL (VALUES
         ('transferRows', recorded."transferRows"::text, derived."transferRows"::text),
         ('transferAmountFen', recorded."transferAmountFen"::text, derived."transferAmountFen"::text),
         ('usageRows', recorded."usageRows"::text, derived."usageRows"::text),
         ('auditRows', recorded."auditRows"::text, derived."auditRows"::text),
         ('auditFirstPrevHash', recorded."auditFirstPrevHash", derived."auditFirstPrevHash"),
         ('auditLastHash', recorded."auditLastHash", derived."auditLastHash")) AS v(f, r, d)
       WHERE r IS DISTINCT FROM d
       UNION ALL
       SELECT COALESCE(r.scope::text, d.scope), COALESCE(r.key, d.key)::text, COALESCE(r.amount, 0)::text, COALESCE(d.amount, 0)::text
       FROM (SELECT * FROM archived_totals WHERE month = $1::date) r FULL JOIN (${totals.perKey}) d ON d.scope = r.scope::text AND d.key = r.key
       WHERE COALESCE(r.amount, 0) <> COALESCE(d.amount, 0)
       UNION ALL
       -- Double entry: the month's net moves over all accounts sum to zero.
       SELECT 'ACCOUNT_NET_FEN_SUM', 'all accounts', '0', sum(amount)::text FROM (${totals.perKey}) d WHERE scope = 'ACCOUNT_NET_FEN' HAVING sum(amount) <> 0
       UNION ALL
       SELECT 'TRANSFER_KEY', t."idempotencyKey", t.id::text, COALESCE(k."transferId"::text, 'missing')
       FROM archive."${t.transfers}" t LEFT JOIN transfer_keys k ON k."idempotencyKey" = t."idempotencyKey"
       WHERE k."transferId" IS DISTINCT FROM t.id
       UNION ALL
       SELECT 'AUDIT_CHAIN', seq::text, hash, recomputed FROM (
         SELECT e.seq, e.hash, e."prevHash", lag(e.hash) OVER (ORDER BY e.seq) AS previous,
                encode(sha256(convert_to(audit_event_material(ROW(e.*)::audit_events), 'UTF8')), 'hex') AS recomputed
         FROM archive."${t.audit}" e) c
       WHERE hash <> recomputed OR ("prevHash" IS DISTINCT FROM previous AND previous IS NOT NULL)
       UNION ALL
       -- The event after the month (live or in a later archive) links to the month's last hash.
       SELECT 'AUDIT_LINK_OUT', next.seq::text, recorded."auditLastHash", next."prevHash"
       FROM recorded, LATERAL (SELECT seq, "prevHash" FROM audit_events WHERE seq > (SELECT max(seq) FROM archive."${t.audit}") ORDER BY seq LIMIT 1) next
       WHERE next."prevHash" IS DISTINCT FROM recorded."auditLastHash"`,
      t.month,
    );
    const [{ n }] = await db.$queryRawUnsafe<{ n: number }[]>(
      `SELECT ((SELECT count(*) FROM archive."${t.transfers}") + (SELECT count(*) FROM archive."${t.usage}") + (SELECT count(*) FROM archive."${t.audit}"))::int AS n`,
    );
    return { rowsExamined: n, mismatches: rows };
  }

  /** The month's figures and per-key totals, as SQL over its archived tables. */
  private derived(t: MonthTables): { month: string; perKey: string } {
    const tr = `archive."${t.transfers}"`;
    const us = `archive."${t.usage}"`;
    const au = `archive."${t.audit}"`;
    return {
      month: `SELECT (SELECT count(*) FROM ${tr})::bigint AS "transferRows", (SELECT COALESCE(sum("amountFen"), 0) FROM ${tr})::bigint AS "transferAmountFen",
                     (SELECT count(*) FROM ${us})::bigint AS "usageRows", (SELECT count(*) FROM ${au})::bigint AS "auditRows",
                     (SELECT "prevHash" FROM ${au} ORDER BY seq LIMIT 1) AS "auditFirstPrevHash", (SELECT hash FROM ${au} ORDER BY seq DESC LIMIT 1) AS "auditLastHash"`,
      perKey: `SELECT 'ACCOUNT_NET_FEN' AS scope, account AS key, sum(delta)::bigint AS amount FROM (
                 SELECT "creditAccountId" AS account, "amountFen" AS delta FROM ${tr} UNION ALL SELECT "debitAccountId", -"amountFen" FROM ${tr}) m GROUP BY account
               UNION ALL
               SELECT 'OBLIGATION_HELD_FEN', "obligationId",
                      ${ESCROW_HELD_FEN}::bigint
               FROM ${tr} WHERE "obligationId" IS NOT NULL GROUP BY "obligationId"
               UNION ALL
               SELECT 'OBLIGATION_CREDITED_TOKENS', "obligationId", sum("creditedTokens")::bigint FROM ${us} GROUP BY "obligationId"`,
    };
  }
}
