import { describe, expect, it } from 'vitest';
import { batchOrEach, fulfilled, GroupCommit, rejected } from './group-commit.js';
import { LockMode } from './lock-mode.js';

describe('GroupCommit', () => {
  it('flushes what arrives while a flush is in flight together, in order, answering each item', async () => {
    const flushes: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const g = new GroupCommit<number, number>(async (items) => {
      flushes.push(items);
      if (flushes.length === 1) await gate;
      return items.map((i) => (i % 5 === 0 ? rejected(new Error(`no ${i}`)) : fulfilled(i * 10)));
    });
    const first = g.run(1);
    const rest = [2, 3, 4, 5].map((i) => g.run(i).catch((e: Error) => e.message));
    release();
    expect(await first).toBe(10);
    expect(await Promise.all(rest)).toEqual([20, 30, 40, 'no 5']);
    expect(flushes).toEqual([[1], [2, 3, 4, 5]]);
  });

  it('runs up to `concurrency` flushes at once and fails every item of a flush that throws', async () => {
    let running = 0;
    let peak = 0;
    const g = new GroupCommit<number, number>(
      async (items) => {
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 10));
        running--;
        if (items.includes(99)) throw new Error('boom');
        return items.map((i) => fulfilled(i));
      },
      { maxItems: 2, concurrency: 2 },
    );
    const results = await Promise.all([1, 2, 3, 4, 5, 99].map((i) => g.run(i).catch((e: Error) => e.message)));
    expect(peak).toBe(2);
    expect(results.slice(0, 4)).toEqual([1, 2, 3, 4]);
    expect(results[5]).toBe('boom');
  });
});

describe('GroupCommit with gatherTurn', () => {
  it('an idle group flushes what settles in the same turn together, not the first alone', async () => {
    const flushes: number[][] = [];
    const make = (gatherTurn: boolean) =>
      new GroupCommit<number, number>(
        async (items) => {
          flushes.push(items);
          await new Promise((r) => setTimeout(r, 5));
          return items.map((i) => fulfilled(i));
        },
        { gatherTurn },
      );
    // Work that finishes one microtask after another, as an instant engine's jobs do.
    const finishTogether = (g: GroupCommit<number, number>) => Promise.all([1, 2, 3, 4].map(async (i) => g.run(await Promise.resolve(i))));
    expect(await finishTogether(make(false))).toEqual([1, 2, 3, 4]);
    expect(flushes.splice(0)).toEqual([[1], [2, 3, 4]]);
    const gathered = make(true);
    expect(await finishTogether(gathered)).toEqual([1, 2, 3, 4]);
    expect(flushes.splice(0)).toEqual([[1, 2, 3, 4]]);
    // While a flush is in flight, arrivals still wait for it and go together after it.
    const late = [gathered.run(5)];
    await new Promise((r) => setImmediate(r));
    late.push(gathered.run(6), gathered.run(7));
    expect(await Promise.all(late)).toEqual([5, 6, 7]);
    expect(flushes).toEqual([[5], [6, 7]]);
  });
});

describe('batchOrEach', () => {
  it('answers from the batch when it commits, and runs each item alone (in order) when it throws', async () => {
    const runs: number[][] = [];
    const run = async (items: number[]) => {
      runs.push(items);
      if (items.length > 1 || items[0] === 3) throw new Error(`batch of ${items.join(',')} failed`);
      return items.map((i) => fulfilled(i * 10));
    };
    expect(await batchOrEach([7], run)).toEqual([fulfilled(70)]);
    const fallbacks: unknown[] = [];
    const out = await batchOrEach([1, 2, 3, 4], run, (err) => fallbacks.push(err));
    expect(out.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([10, 20, 'batch of 3 failed', 40]);
    expect(runs).toEqual([[7], [1, 2, 3, 4], [1], [2], [3], [4]]);
    expect(fallbacks).toHaveLength(1);
    // A single item that fails is answered with its error, not run again.
    expect(await batchOrEach([3], run)).toEqual([rejected(new Error('batch of 3 failed'))]);
  });
});

describe('LockMode', () => {
  it('stays optimistic until a batch races (SQLSTATE TCR01), then locks up front for a while', async () => {
    const mode = new LockMode(50);
    expect(mode.lockFirst).toBe(false);
    mode.failed(Object.assign(new Error('unique violation'), { code: '23505' }));
    expect(mode.lockFirst).toBe(false);
    mode.failed(Object.assign(new Error('obligations changed'), { code: 'TCR01' }));
    expect(mode.lockFirst).toBe(true);
    await new Promise((r) => setTimeout(r, 80));
    expect(mode.lockFirst).toBe(false);
  });
});
