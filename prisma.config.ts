import { defineConfig } from 'prisma/config';

// Used by `prisma generate` only; migrations run through scripts/db-migrate.ts (WASM engine).
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
