import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { BatchedTransactions } from './batched-transactions.js';
import { fulfilled } from './group-commit.js';

/** What Postgres raises when a batch's write finds the rows it read unlocked moved (see LockMode). */
const raced = () => Object.assign(new Error('rows moved since they were read'), { code: 'TCR01' });

describe('BatchedTransactions', () => {
  const setup = (fail: (items: number[], lockFirst: boolean, call: number) => Error | undefined) => {
    const calls: { items: number[]; lockFirst: boolean }[] = [];
    const batches = new BatchedTransactions<number, number>({
      name: 'test',
      items: 'numbers',
      metrics: { registry: new Registry() },
      maxItems: 100,
      transact: async (items, lockFirst) => {
        calls.push({ items, lockFirst });
        const err = fail(items, lockFirst, calls.length);
        if (err) throw err;
        return items.map((i) => fulfilled(i * 10));
      },
    });
    return { batches, calls };
  };
  /** `first` goes alone (nothing is in flight); `rest`, sent meanwhile, gather into one batch behind it. */
  const behind = async (b: BatchedTransactions<number, number>, first: number, rest: number[]) => {
    const [, ...answers] = await Promise.allSettled([first, ...rest].map((i) => b.run(i)));
    return answers;
  };
  const values = (rs: PromiseSettledResult<number>[]) => rs.map((r) => (r.status === 'fulfilled' ? r.value : 'refused'));

  it('a batch that raced is run again whole, locking up front — not item by item — and later batches lock up front', async () => {
    const { batches, calls } = setup((_items, lockFirst) => (lockFirst ? undefined : raced()));
    // 0 alone locks up front, as one item always does; 1, 2, 3 go together, optimistically.
    expect(values(await behind(batches, 0, [1, 2, 3]))).toEqual([10, 20, 30]);
    expect(calls).toEqual([
      { items: [0], lockFirst: true },
      { items: [1, 2, 3], lockFirst: false },
      { items: [1, 2, 3], lockFirst: true },
    ]);
    expect(values(await behind(batches, 9, [4, 5]))).toEqual([40, 50]);
    expect(calls.slice(3)).toEqual([
      { items: [9], lockFirst: true },
      { items: [4, 5], lockFirst: true },
    ]);
  });

  it('any other failure, or a locked batch that fails, is run item by item so one item cannot fail the others', async () => {
    const { batches, calls } = setup((items) => (items.length > 1 || items[0] === 2 ? new Error('unique violation') : undefined));
    expect(values(await behind(batches, 0, [1, 2, 3]))).toEqual([10, 'refused', 30]);
    expect(calls.slice(1).map((c) => c.items)).toEqual([[1, 2, 3], [1], [2], [3]]);
  });
});
