import { Injectable } from '@nestjs/common';
import type { Db, Tx } from './prisma.service.js';
import { PrismaService } from './prisma.service.js';
import type { SqlTx } from './sql-tx.js';

type TxOptions = {
  maxWait?: number;
  timeout?: number;
  isolationLevel?: 'ReadUncommitted' | 'ReadCommitted' | 'RepeatableRead' | 'Serializable';
  /**
   * false: Postgres plans the transaction's statements without JIT (SET LOCAL jit = off). For the
   * batch passes whose one big statement sits just over the JIT threshold (cost 100,000): compiling
   * its expressions in the leader and each parallel worker costs more than it saves on a query of
   * a few hundred milliseconds (the daily run's netting pass: 317 ms with JIT, 286 ms without).
   * SET LOCAL, so the pooled connection (or a pooler in transaction mode) goes back unchanged.
   */
  jit?: false;
};

/**
 * What services and processors get instead of the Prisma client: a way to open one transaction
 * that the repositories they call share, and the root client to hand to repositories outside a
 * transaction. Queries themselves live in repositories (`*.repository.ts`); the architecture test
 * (test/platform/architecture.spec.ts) refuses Prisma or SQL anywhere else.
 */
@Injectable()
export class TransactionRunner {
  constructor(private readonly prisma: PrismaService) {}

  /** The root client, for repository calls that need no transaction of their own. */
  get root(): Db {
    return this.prisma;
  }

  /** One Prisma interactive transaction: commits when `fn` resolves, rolls back when it throws. */
  run<T>(fn: (tx: Tx) => Promise<T>, options?: TxOptions): Promise<T> {
    if (options?.jit !== false) return this.prisma.$transaction(fn, options);
    const { jit: _jit, ...prismaOptions } = options;
    return this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SET LOCAL jit = off`;
      return fn(tx);
    }, prismaOptions);
  }

  /** A pipelined transaction of hand-written SQL on the pg driver (hot paths): see `PrismaService.sqlTransaction`. */
  sql<T>(fn: (tx: SqlTx, commit: () => Promise<void>) => Promise<T>): Promise<T> {
    return this.prisma.sqlTransaction(fn);
  }

  /** Single hand-written statements on the pool, outside any transaction (hot paths). */
  get statements(): SqlTx {
    return this.prisma.sql;
  }
}
