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
      adapter: new PrismaPg({ connectionString: config.databaseUrl, max: 20 }, { onPoolError: warn, onConnectionError: warn }),
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
  }
}
