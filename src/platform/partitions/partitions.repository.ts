import { Injectable } from '@nestjs/common';
import type { Db, Tx } from '../prisma/prisma.service.js';

/** The tables partitioned by month of "createdAt" (migration 20261205034226_partitioned_history). */
export const PARTITIONED_TABLES = ['transfers', 'usage_records', 'audit_events'] as const;
export type PartitionedTable = (typeof PARTITIONED_TABLES)[number];

export interface Partition {
  table: PartitionedTable;
  name: string;
  /** Lower bound, first day of the month (UTC); null for the DEFAULT partition. */
  month: string | null;
}

@Injectable()
export class PartitionsRepository {
  /**
   * Creates the partitions of the current month (UTC) through `monthsAhead` months ahead; returns
   * how many were created (0 when they all exist). Creating a partition locks its parent: a short
   * lock timeout makes the job fail and retry rather than queue every insert behind a long
   * transaction (hence a transaction of its own: `SET LOCAL`).
   */
  async createAhead(tx: Tx, monthsAhead: number): Promise<number> {
    await tx.$executeRaw`SET LOCAL lock_timeout = '5s'`;
    const [{ created }] = await tx.$queryRaw<{ created: number }[]>`
      SELECT create_month_partitions((now() AT TIME ZONE 'UTC')::date,
                                     ((now() AT TIME ZONE 'UTC') + make_interval(months => ${monthsAhead}::int))::date) AS created`;
    return created;
  }

  /** Every attached partition of the three tables. */
  list(db: Db): Promise<Partition[]> {
    return db.$queryRaw<Partition[]>`
      SELECT p.relname::text AS "table", c.relname::text AS name,
             CASE WHEN pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' THEN NULL
                  ELSE substring(c.relname from '_y([0-9]{4})m') || '-' || substring(c.relname from 'm([0-9]{2})$') || '-01' END AS month
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
      WHERE p.relname IN ('transfers', 'usage_records', 'audit_events') AND p.relnamespace = 'public'::regnamespace
      ORDER BY 1, 2`;
  }
}
