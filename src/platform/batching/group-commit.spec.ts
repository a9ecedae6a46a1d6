import { describe, expect, it } from 'vitest';
import { fulfilled, GroupCommit, rejected } from './group-commit.js';

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
