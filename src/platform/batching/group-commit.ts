import type pg from 'pg';
import { statementName } from '../prisma/sql-tx.js';

/**
 * Group commit: calls that arrive while a flush is in flight wait and are flushed together as
 * soon as one ends, so under load N callers cost one round trip instead of N, and an idle caller
 * waits for nothing. `concurrency` flushes at most run at once; with 1 (the default) flushes
 * are also serialised (the batches of a matching lane, the audit chain's appends).
 *
 * `flush` answers every item, in order, with a PromiseSettledResult; if it throws, every item
 * of that flush fails with the error.
 *
 * `gatherTurn`: an idle group waits for the end of the current turn of the event loop before its
 * first flush, so callers that finish together — their promises settling one after another in
 * the same turn — go in one flush instead of the first alone and the rest after it.
 */
export class GroupCommit<I, O> {
  private readonly queue: { item: I; resolve: (value: O) => void; reject: (reason: unknown) => void }[] = [];
  private flushing = 0;

  private readonly maxItems: number;
  private readonly concurrency: number;
  private readonly onFlush?: (size: number) => void;
  private readonly gatherTurn: boolean;
  private gathering: NodeJS.Immediate | undefined;

  constructor(
    private readonly flush: (items: I[]) => Promise<PromiseSettledResult<O>[]>,
    options: { maxItems?: number; concurrency?: number; onFlush?: (size: number) => void; gatherTurn?: boolean } = {},
  ) {
    this.maxItems = options.maxItems ?? 500;
    this.concurrency = options.concurrency ?? 1;
    this.onFlush = options.onFlush;
    this.gatherTurn = options.gatherTurn ?? false;
  }

  run(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.flushing >= this.concurrency) return;
      if (!this.gatherTurn) void this.drain();
      else
        this.gathering ??= setImmediate(() => {
          this.gathering = undefined;
          if (this.flushing < this.concurrency && this.queue.length > 0) void this.drain();
        });
    });
  }

  private async drain(): Promise<void> {
    this.flushing++;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxItems);
      this.onFlush?.(batch.length);
      try {
        const results = await this.flush(batch.map((b) => b.item));
        batch.forEach((b, i) => {
          const r = results[i];
          if (r.status === 'fulfilled') b.resolve(r.value);
          else b.reject(r.reason);
        });
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.flushing--;
  }
}

/**
 * Rows by a unique text key, looked up on every request (API keys, node tokens): lookups that
 * arrive while two are in flight go together in one statement, straight on the pg pool. Nothing
 * is cached, so a revoked or rotated credential is refused at once. `sql` selects by
 * `= ANY($1::text[])`.
 */
export function coalescedLookup<R extends object>(
  pool: Pick<pg.Pool, 'query'>,
  sql: string,
  keyOf: (row: R) => string,
): (key: string) => Promise<R | null> {
  const name = statementName(sql);
  const lookups = new GroupCommit<string, R | null>(
    async (keys) => {
      // A named statement: each connection parses and plans it once, not once per lookup.
      const { rows } = await pool.query<R>({ name, text: sql, values: [[...new Set(keys)]] });
      const byKey = new Map(rows.map((r) => [keyOf(r), r]));
      return keys.map((k) => fulfilled(byKey.get(k) ?? null));
    },
    { concurrency: 2 },
  );
  return (key) => lookups.run(key);
}

export const fulfilled = <O>(value: O): PromiseFulfilledResult<O> => ({ status: 'fulfilled', value });
export const rejected = (reason: unknown): PromiseRejectedResult => ({ status: 'rejected', reason });

/**
 * A promise awaited later, maybe never (the transaction may fail first, the request may be
 * refused before it is asked for): its failure is not an unhandled rejection meanwhile, and
 * still rejects whoever awaits it.
 */
export function settledLater<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/**
 * A group-committed batch's safety net: `run` takes the items as one transaction; if that
 * throws (a lock or unique key raced, a deadlock), each item is run again as a batch of its own,
 * one after another, so one item cannot fail the others and the outcome never depends on batching.
 */
export async function batchOrEach<I, O>(
  items: I[],
  run: (items: I[]) => Promise<PromiseSettledResult<O>[]>,
  onFallback?: (err: unknown) => void,
): Promise<PromiseSettledResult<O>[]> {
  try {
    return await run(items);
  } catch (err) {
    if (items.length === 1) return [rejected(err)];
    onFallback?.(err);
    const out: PromiseSettledResult<O>[] = [];
    for (const item of items) out.push(await run([item]).then((r) => r[0], rejected));
    return out;
  }
}
