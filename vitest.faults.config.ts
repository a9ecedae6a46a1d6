import { defineConfig } from 'vitest/config';

// npm run test:faults: the long fault-injection suite, on its own (it owns its Postgres and Redis).
export default defineConfig({
  test: {
    root: './',
    include: ['test/faults/**/*.fault.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 1_800_000,
    hookTimeout: 300_000,
    reporters: ['default'],
  },
});
