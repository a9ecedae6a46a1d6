import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../../generated/prisma/client.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { Metrics } from '../metrics/metrics.js';
import { PrismaService, type Db } from './prisma.service.js';
import { withTimeout } from '../time/with-timeout.js';

/** How long one lag reading is trusted: one probe per second per process, whatever the read rate. */
const LAG_CACHE_MS = 1_000;
const PROBE_TIMEOUT_MS = 1_000;

/**
 * How far behind the replica is, in ms. Caught up (everything received is replayed) is 0 — an
 * idle primary writes nothing, so the last replayed commit's age alone would call an idle replica
 * late. Otherwise the age of the last replayed commit; a replica that never replayed one while
 * WAL waits counts as infinitely late.
 */
const LAG_SQL = `
  SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
    ELSE COALESCE(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000, 'Infinity')
  END::float8 AS lag_ms`;

/**
 * Reads that may be slightly stale — market data, lists, statements, reports — go to the
 * streaming replica at DATABASE_READ_URL while it is within READ_MAX_LAG_MS of the primary, and to
 * the primary otherwise (or when the replica is down, or no replica is configured).
 *
 * Never for anything that decides money: balances checked before a transfer, margin, matching,
 * settlement all read the primary inside their transactions. A replica read is a view, not a basis.
 */
@Injectable()
export class ReadDb implements OnModuleDestroy {
  private readonly logger = new Logger(ReadDb.name);
  private readonly replica?: { client: PrismaClient; pool: pg.Pool };
  private lag?: { at: number; usable: Promise<boolean> };

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly primary: PrismaService,
    private readonly metrics: Metrics,
  ) {
    if (!config.databaseReadUrl) return;
    const pool = new pg.Pool({ connectionString: config.databaseReadUrl, max: config.databasePoolMax, connectionTimeoutMillis: 2_000 });
    pool.on('error', (err) => this.logger.warn({ err: err.message }, 'replica connection lost'));
    this.replica = { pool, client: new PrismaClient({ adapter: new PrismaPg(pool) }) };
  }

  /**
   * Runs a read-only repository call on the replica when it is fresh enough, else on the primary.
   * A call the replica fails is run again on the primary (a read is safe to repeat; a query that is
   * itself wrong fails there too and that error is the caller's), and the replica is left alone
   * until the next probe — it may have gone down since the last one.
   */
  async read<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    if (this.replica && (await this.replicaUsable())) {
      try {
        const result = await fn(this.replica.client);
        this.metrics.readServed('replica');
        return result;
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'replica read failed; reading the primary');
        this.lag = { at: Date.now(), usable: Promise.resolve(false) };
      }
    }
    const result = await fn(this.primary);
    this.metrics.readServed('primary');
    return result;
  }

  private replicaUsable(): Promise<boolean> {
    const now = Date.now();
    if (!this.lag || now - this.lag.at > LAG_CACHE_MS) this.lag = { at: now, usable: this.probe() };
    return this.lag.usable;
  }

  private async probe(): Promise<boolean> {
    const client = await this.replica!.pool.connect().catch(() => undefined);
    if (!client) return false;
    let broken = false;
    try {
      const rows = await withTimeout(
        client.query<{ lag_ms: number }>(LAG_SQL).then((r) => r.rows),
        PROBE_TIMEOUT_MS,
        'lag probe timed out',
      );
      const lagMs = rows[0].lag_ms;
      this.metrics.replicaLag(lagMs);
      return lagMs <= this.config.readMaxLagMs;
    } catch {
      broken = true;
      return false;
    } finally {
      // A connection whose probe timed out may still be busy: dropped, not reused.
      client.release(broken);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.replica?.client.$disconnect().catch(() => undefined);
    await this.replica?.pool.end().catch(() => undefined);
  }
}
