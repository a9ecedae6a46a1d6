import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { AuditRepository } from '../platform/audit/audit.repository.js';
import { BootstrapService } from '../staff/bootstrap.service.js';
import { StaffRepository } from '../staff/staff.repository.js';
import { StaffService } from '../staff/staff.service.js';
import { ApiError, CliApi } from './api-client.js';
import { COMMANDS, PUBLIC_COMMANDS, UsageError, type Io } from './commands.js';
import { MembersRepository } from '../members/members.repository.js';
import { ConfigError, loadEnvConfig } from '../platform/config/config.js';
import { databaseProviders } from '../platform/prisma/database-providers.js';

// `npm run cli -- <command>`. bootstrap needs the database directly; every other command is a
// thin client of the HTTP API with a clearing key.
const USAGE = `usage: npm run cli -- <command> [--json]

  bootstrap [--new-key]                      create the clearing member and a first clearing key (needs DATABASE_URL)
  staff add --name N                         add a person of the first team with a first clearing key (needs DATABASE_URL; audited)
  settlement run --type DAILY|EXPIRY|DELIVERY_CLOSE [--series S] [--date YYYY-MM-DD]
                                             start a run (all trading series without --series) and follow it
  recon run                                  run every reconciliation check
  breaks list [--status OPEN] [--type T] [--member ID]
  statements export --member ID --date D [--format csv|json] [--out FILE]
  payments export --date D [--format pain001|csv|json] [--out FILE]
  bank-statement import FILE.xml|FILE.csv    camt.053 XML or the statement CSV
  indices fixings CODE [--from D] [--to D]   a token index's published fixings (no key needed)
  payment-status import FILE.xml             pain.002 status report (RJCT returns the payment)
  defaults list [--status PROPOSED|AUCTION|COMPLETED]
  defaults show ID                           lots, bids, close-out and every waterfall step in fen
  defaults propose --member ID --reason R    the maker's half of a default declaration
  defaults approve ID                        a second person declares it: suspension, auction

HTTP commands use TOKENCLEAR_API (default http://127.0.0.1:3000) and TOKENCLEAR_KEY (a clearing key),
or --api / --key. Exit codes: 0 ok, 1 failed, 2 usage, 3 API refused or unreachable.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...flags] = argv;
  const staffAdd = command === 'staff' && flags[0] === 'add';
  if (command !== 'bootstrap' && !staffAdd) return http(argv);
  const env = loadEnvConfig();
  if (!env.databaseUrl) {
    process.stderr.write(`DATABASE_URL is required for ${staffAdd ? 'staff add' : 'bootstrap'}\n`);
    return 2;
  }
  const nameAt = flags.indexOf('--name');
  const name = nameAt >= 0 ? flags[nameAt + 1]?.trim() : undefined;
  if (staffAdd && (!name || name.length > 200)) {
    process.stderr.write(`staff add needs --name N (1-200 characters)\n\n${USAGE}\n`);
    return 2;
  }
  // A Nest context of just what bootstrap needs: the same wiring as in the app, no HTTP, no queues.
  const context = await NestFactory.createApplicationContext(
    {
      providers: [
        ...databaseProviders({ ...env, databaseUrl: env.databaseUrl, redisUrl: env.redisUrl ?? '' }),
        MembersRepository,
        StaffRepository,
        StaffService,
        AuditRepository,
        BootstrapService,
      ],
    },
    { logger: false },
  );
  try {
    const service = context.get(BootstrapService);
    if (staffAdd) {
      const added = await service.addStaff(name!, `cli-${randomUUID()}`);
      process.stdout.write(
        `staff ${added.staffId} (${name}) active\nclearing key id ${added.keyId}\nclearing key (shown once): ${added.key}\n`,
      );
      return 0;
    }
    const wanted =
      env.bootstrapClearingKey ??
      (flags.includes('--new-key') ? (await import('../platform/auth/api-key.js')).generateApiKey() : undefined);
    const result = await service.ensureClearing(wanted);
    const shown = result.createdKey ?? (flags.includes('--new-key') ? wanted : undefined);
    process.stdout.write(
      `clearing member ${result.clearingMemberId}\nclearing key id ${result.keyId}\n` +
        (shown ? `clearing key (shown once): ${shown}\n` : 'a clearing key already exists; use --new-key for another\n'),
    );
    return 0;
  } finally {
    await context.close();
  }
}

async function http(argv: string[]): Promise<number> {
  const io: Io = {
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(s.startsWith('\r') ? s : `${s}\n`),
    isTty: Boolean(process.stderr.isTTY),
  };
  // --api / --key may come anywhere; the command is the first two words.
  const rest: string[] = [];
  let api = process.env.TOKENCLEAR_API ?? 'http://127.0.0.1:3000';
  let key = process.env.TOKENCLEAR_KEY;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--api') api = argv[++i] ?? '';
    else if (argv[i] === '--key') key = argv[++i];
    else rest.push(argv[i]);
  }
  const name = rest.slice(0, 2).join(' ');
  const run = COMMANDS[name];
  if (!run) {
    io.err(USAGE);
    return rest.length ? 2 : 0;
  }
  if (!key && !PUBLIC_COMMANDS.has(name)) {
    io.err('a clearing key is required: set TOKENCLEAR_KEY or pass --key');
    return 2;
  }
  try {
    return await run(new CliApi(api, key ?? ''), io, rest.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof ApiError) {
      io.err(err.message);
      return 3;
    }
    throw err;
  }
}

main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`);
    process.exit(1);
  });
