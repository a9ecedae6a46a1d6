import { Logger } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import type { Metrics } from '../metrics/metrics.js';
import { batchOrEach, GroupCommit } from './group-commit.js';
import { postgresError } from '../prisma/postgres-error.js';
import { LockMode, RACED } from './lock-mode.js';

/**
 * Items group-committed into one transaction per batch (see `GroupCommit`), with the safety net
 * every such batcher needs. A batch that raced (rows it read unlocked moved before its write) is
 * run again whole, locking up front, where it cannot race; a batch that still cannot commit is
 * run again item by item (`batchOrEach`); and once a batch raced the batcher locks up front for
 * a while (`LockMode`).
 * `transact` is told whether to lock up front: always for one item alone and for the retry of a
 * raced batch, otherwise as the LockMode says. `<name>_batch_size`, `<name>_batch_races_total`
 * and `<name>_batch_fallbacks_total` go on `/metrics`.
 */
export class BatchedTransactions<I, O> {
  private readonly logger: Logger;
  private readonly locking = new LockMode();
  private readonly commits: GroupCommit<I, O>;
  private readonly size: Histogram;
  private readonly fallbacks: Counter;
  private readonly retried: Counter;
  private readonly apply: (items: I[], lockFirst: boolean) => Promise<PromiseSettledResult<O>[]>;

  constructor(opts: {
    name: string;
    /** What one item is, plural, for the metrics' help and the log ("completions"). */
    items: string;
    metrics: Pick<Metrics, 'registry'>;
    maxItems: number;
    transact: (items: I[], lockFirst: boolean) => Promise<PromiseSettledResult<O>[]>;
  }) {
    this.logger = new Logger(`${opts.name} batches`);
    this.apply = opts.transact;
    this.size = new Histogram({
      name: `${opts.name}_batch_size`,
      help: `${opts.items} per transaction`,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [opts.metrics.registry],
    });
    this.fallbacks = new Counter({
      name: `${opts.name}_batch_fallbacks_total`,
      help: `Batches of ${opts.items} that could not commit and were run one by one`,
      registers: [opts.metrics.registry],
    });
    this.retried = new Counter({
      name: `${opts.name}_batch_races_total`,
      help: `Batches of ${opts.items} that raced and were run again whole, locking up front`,
      registers: [opts.metrics.registry],
    });
    this.commits = new GroupCommit<I, O>(
      (items) =>
        batchOrEach(
          items,
          (batch) => this.transact(batch),
          (err) => {
            this.fallbacks.inc();
            this.locking.failed(err);
            this.logger.warn(
              { err: err instanceof Error ? err.message : String(err), batch: items.length },
              `batch of ${opts.items} rolled back; running them one by one`,
            );
          },
        ),
      { maxItems: opts.maxItems, onFlush: (n) => this.size.observe(n) },
    );
  }

  /**
   * Item by item, a raced batch of 150 completions was 150 transactions (bench:delivery: the
   * report's mean went from ~130 to ~385 ms in a run where two batches raced); whole and locked,
   * it is one more.
   */
  private async transact(batch: I[]): Promise<PromiseSettledResult<O>[]> {
    const lockFirst = batch.length === 1 || this.locking.lockFirst;
    try {
      return await this.apply(batch, lockFirst);
    } catch (err) {
      if (lockFirst || postgresError(err)?.code !== RACED) throw err;
      this.locking.failed(err);
      this.retried.inc();
      return this.apply(batch, true);
    }
  }

  run(item: I): Promise<O> {
    return this.commits.run(item);
  }
}
