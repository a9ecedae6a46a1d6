import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../../generated/prisma/client.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { coalescedWrites, SqlTx } from './sql-tx.js';

export type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];
/** Repositories accept either the root client or a transaction, so callers compose one transaction. */
export type Db = PrismaClient | Tx;

/**
 * What a repository needs when it only runs hand-written SQL: a Prisma client or transaction,
 * or a `SqlTx` on the hot paths (both take the same tagged template).
 */
export interface RawSql {
  $queryRaw<T = unknown>(query: TemplateStringsArray, ...values: unknown[]): PromiseLike<T>;
  $executeRaw(query: TemplateStringsArray, ...values: unknown[]): PromiseLike<number>;
}

@Injectable()
export class PrismaService extends PrismaClient implements OnModuleDestroy {
  /** The one connection pool: Prisma's adapter and `sqlTransaction` both draw from it. */
  readonly pool: pg.Pool;
  /** Single hand-written statements straight on the pool (hot paths; no transaction). */
  readonly sql: SqlTx;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const logger = new Logger('Postgres');
    // A connection the server drops (restart, pg_terminate_backend, failover) must cost one
    // failed query at most; unhandled, pg's 'error' event would take the whole process down.
    const warn = (err: Error) => logger.warn({ err: err.message }, 'postgres connection lost; the pool will reconnect');
    const pool = new pg.Pool({ connectionString: config.databaseUrl, max: config.databasePoolMax });
    pool.on('error', warn);
    // The pool listens to a client only while it is idle in the pool: one checked out, or being
    // ended (released as broken, pool.end at shutdown), emits a server's FATAL (a terminated
    // backend, a database dropped WITH (FORCE)) to nobody, and an unheard 'error' ends the process.
    // Every client is heard for its whole life.
    pool.on('connect', (client) =>
      client.on('error', (err: Error) => logger.debug({ err: err.message }, 'postgres connection closed by the server')),
    );
    super({
      adapter: new PrismaPg(pool, { onConnectionError: warn }),
      // Under a burst on one hot account, transactions queue on its row lock while holding pool
      // connections; Prisma's 2 s default wait for a connection would turn that queue into errors.
      transactionOptions: { maxWait: 20_000, timeout: 60_000 },
    });
    this.pool = pool;
    this.sql = new SqlTx(pool);
  }

  /**
   * A transaction of hand-written SQL straight on the pg driver, for the hottest paths (order
   * matching): a statement costs a fraction of what it costs through the Prisma client. Commits
   * when `fn` resolves, rolls back when it throws.
   *
   * The connection is pipelined while `fn` has it (pg's `pipeline` mode): statements `fn` issues
   * without awaiting the previous one go out at once and Postgres runs them in order, so a
   * transaction that holds locks pays one round trip for several statements (`inOrder`). A
   * statement that fails aborts the transaction, and every later one fails with it. `commit`
   * sends the COMMIT behind the statements already issued, in the same round trip: Postgres
   * answers a COMMIT of an aborted transaction by rolling it back, and `commit` then rejects.
   */
  async sqlTransaction<T>(fn: (tx: SqlTx, commit: () => Promise<void>) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // A checked-out client's connection lost (server restart, pg_terminate_backend) is emitted as
    // an 'error' event (heard by the listener every client gets at connect): marked here so the
    // client is not reused. pg fails the pending statements itself.
    const lost = (err: Error) => (broken = err);
    client.on('error', lost);
    let committing: Promise<void> | undefined;
    const coalesce = coalescedWrites(client);
    const commit = () => {
      if (!committing) coalesce();
      return (committing ??= client.query('COMMIT').then((res) => {
        if (res.command !== 'COMMIT') throw new Error(`transaction rolled back at COMMIT (${res.command})`);
      }));
    };
    try {
      setPipelined(client, true);
      // BEGIN goes out with the first statements too. Their answers come after its own, and the
      // transaction's SqlTx hands none of them over before BEGIN is known to have succeeded.
      coalesce();
      const begun = client.query('BEGIN').then(() => undefined);
      begun.catch(() => undefined);
      const result = await fn(new SqlTx(client, begun, coalesce), commit);
      await begun;
      await commit();
      return result;
    } catch (err) {
      // After a COMMIT that was sent there is no transaction left to roll back; a connection whose
      // COMMIT did not answer COMMIT is not trusted again.
      if (committing) await committing.catch((e: Error) => (broken = e));
      else await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      // Every statement has answered by now (COMMIT or ROLLBACK did): the connection goes back to
      // the pool as Prisma expects it, one statement at a time.
      setPipelined(client, false);
      client.off('error', lost);
      // A connection that could not even roll back is discarded, not reused.
      client.release(broken);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
    await this.pool.end().catch(() => undefined);
  }
}

/** pg reads `pipeline` on every send; its typings call it readonly because it is meant as a constructor option. */
function setPipelined(client: pg.PoolClient, on: boolean): void {
  (client as { pipeline: boolean }).pipeline = on;
}
