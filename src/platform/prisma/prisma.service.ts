import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../../generated/prisma/client.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';

export type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];
/** Repositories accept either the root client or a transaction, so callers compose one transaction. */
export type Db = PrismaClient | Tx;

@Injectable()
export class PrismaService extends PrismaClient implements OnModuleDestroy {
  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const logger = new Logger('Postgres');
    // A connection the server drops (restart, pg_terminate_backend, failover) must cost one
    // failed query at most; unhandled, pg's 'error' event would take the whole process down.
    const warn = (err: Error) => logger.warn({ err: err.message }, 'postgres connection lost; the pool will reconnect');
    super({
      adapter: new PrismaPg({ connectionString: config.databaseUrl, max: config.databasePoolMax }, { onPoolError: warn, onConnectionError: warn }),
      // Under a burst on one hot account, transactions queue on its row lock while holding pool
      // connections; Prisma's 2 s default wait for a connection would turn that queue into errors.
      transactionOptions: { maxWait: 20_000, timeout: 60_000 },
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
  }
}
