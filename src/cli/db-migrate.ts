// `npm run db:migrate`: apply prisma/migrations to DATABASE_URL (no Prisma binary needed).
import { applyMigrations } from '../platform/prisma/migrator.js';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('DATABASE_URL is required, e.g. postgresql://postgres@127.0.0.1:5432/tokenclear');
  process.exit(2);
}
const applied = await applyMigrations(url);
console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
