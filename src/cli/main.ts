import 'reflect-metadata';
import { BootstrapService } from '../members/bootstrap.service.js';
import { MembersRepository } from '../members/members.repository.js';
import { ConfigError, loadEnvConfig } from '../platform/config/config.js';
import { PrismaService } from '../platform/prisma/prisma.service.js';

// `npm run cli -- <command>`. Commands that need the database directly live here; everyday
// clearing work goes through the HTTP API.
const USAGE = `usage: npm run cli -- bootstrap [--new-key]

  bootstrap   create the clearing-house member and a clearing key if none exists (idempotent);
              with --new-key, always issue another clearing key (printed once)
needs DATABASE_URL (or BOOTSTRAP_CLEARING_KEY to register a key you chose)`;

async function main(argv: string[]): Promise<number> {
  const [command, ...flags] = argv;
  if (command !== 'bootstrap') {
    process.stderr.write(`${USAGE}\n`);
    return command ? 2 : 0;
  }
  const env = loadEnvConfig();
  if (!env.databaseUrl) {
    process.stderr.write('DATABASE_URL is required for bootstrap\n');
    return 2;
  }
  const prisma = new PrismaService({ ...env, databaseUrl: env.databaseUrl, redisUrl: env.redisUrl ?? '' });
  try {
    const service = new BootstrapService(prisma, new MembersRepository(prisma));
    const wanted = env.bootstrapClearingKey ?? (flags.includes('--new-key') ? (await import('../platform/auth/api-key.js')).generateApiKey() : undefined);
    const result = await service.ensureClearing(wanted);
    const shown = result.createdKey ?? (flags.includes('--new-key') ? wanted : undefined);
    process.stdout.write(
      `clearing member ${result.clearingMemberId}\nclearing key id ${result.keyId}\n` +
        (shown ? `clearing key (shown once): ${shown}\n` : 'a clearing key already exists; use --new-key for another\n'),
    );
    return 0;
  } finally {
    await prisma.$disconnect();
  }
}

main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`);
    process.exit(1);
  });
