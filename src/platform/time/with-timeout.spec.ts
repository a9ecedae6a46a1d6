import { describe, expect, it } from 'vitest';
import { withTimeout } from './with-timeout.js';

const after = <T>(ms: number, value: T, fail = false) =>
  new Promise<T>((resolve, reject) => setTimeout(() => (fail ? reject(new Error('late failure')) : resolve(value)), ms));

describe('withTimeout', () => {
  it('answers what the work answers in time, its failure included', async () => {
    await expect(withTimeout(after(5, 'ok'), 1_000, 'slow')).resolves.toBe('ok');
    await expect(withTimeout(after(5, 'x', true), 1_000, 'slow')).rejects.toThrow('late failure');
  });

  it('rejects with the message once the time is up; a later failure of the work is not unhandled', async () => {
    const unhandled: unknown[] = [];
    const listen = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', listen);
    try {
      const started = Date.now();
      await expect(withTimeout(after(200, 'x', true), 30, 'Redis did not answer')).rejects.toThrow('Redis did not answer');
      expect(Date.now() - started).toBeLessThan(150);
      await after(250, null);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', listen);
    }
  });
});
