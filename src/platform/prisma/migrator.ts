import { readFile, readdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrismaPg } from '@prisma/adapter-pg';
import pg, { type PoolConfig } from 'pg';
import { randomUUID } from 'node:crypto';
import { parse as parseConnectionString } from 'pg-connection-string';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import * as engineBg from '@prisma/schema-engine-wasm/schema_engine_bg';
import type { MigrationDirectory, SchemaEngine } from '@prisma/schema-engine-wasm';
import { withoutAcceptedDrift } from './partitioned-drift.js';

// Prisma's schema engine as WebAssembly: `prisma migrate` needs a native binary that these
// machines cannot download. The WASM build records migrations in `_prisma_migrations` exactly
// as `prisma migrate deploy` does, so both tools share one history.

const here = dirname(fileURLToPath(import.meta.url));
// src/platform/prisma and dist/platform/prisma are both three levels below the repo root.
export const PRISMA_DIR = join(here, '..', '..', '..', 'prisma');
const MIGRATIONS_DIR = join(PRISMA_DIR, 'migrations');
const SCHEMA_PATH = join(PRISMA_DIR, 'schema.prisma');
const LOCKFILE = 'migration_lock.toml';
const NO_FILTERS = { externalTables: [], externalEnums: [] };

type PgAdapter = Awaited<ReturnType<PrismaPg['connect']>>;

// @prisma/adapter-pg runs a script by splitting it on ';', which breaks dollar-quoted function
// bodies (our append-only triggers). Postgres' simple query protocol takes the script whole,
// which is what the native engine does too.
function sendScriptsWhole(adapter: PgAdapter): PgAdapter {
  const mapError = (adapter as unknown as { onError(e: unknown): never }).onError.bind(adapter);
  adapter.executeScript = async (script: string) => {
    try {
      await adapter.underlyingDriver().query(script);
    } catch (error) {
      mapError(error);
    }
  };
  return adapter;
}

class WholeScriptPg extends PrismaPg {
  constructor(private readonly cfg: PoolConfig) {
    super(cfg);
  }
  private readonly opened: PgAdapter[] = [];

  override async connect(): Promise<PgAdapter> {
    const adapter = sendScriptsWhole(await super.connect());
    this.opened.push(adapter);
    return adapter;
  }

  /** engine.free() does not end the adapter's pool; without this the database stays busy. */
  async closeAll(): Promise<void> {
    await Promise.all(this.opened.splice(0).map((a) => a.dispose()));
  }
  // The stock shadow database is dropped while its pool still holds connections; ours ends the
  // pool first and drops with FORCE, so no shadow database is left behind.
  override async connectToShadowDb(): Promise<PgAdapter> {
    const name = `prisma_migrate_shadow_db_${randomUUID()}`;
    await adminQuery(this.cfg, `CREATE DATABASE "${name}"`);
    const pool = new pg.Pool({ ...this.cfg, database: name });
    const adapter = sendScriptsWhole(await new PrismaPg(pool).connect());
    adapter.dispose = async () => {
      await pool.end();
      await adminQuery(this.cfg, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    };
    return adapter;
  }
}

async function adminQuery(cfg: PoolConfig, sql: string): Promise<void> {
  const client = new pg.Client(cfg);
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

// The schema engine introspects catalog columns of Postgres' internal "char" type (foreign key
// actions), which @prisma/adapter-pg refuses to decode. Its wire format is plain text.
class CharAsTextClient extends pg.Client {
  // pg's query() is heavily overloaded; pg.Pool calls the callback form, the adapter the promise.
  override query(...args: unknown[]): never {
    const last = args.at(-1);
    if (typeof last === 'function') {
      args[args.length - 1] = (err: Error | null, res: pg.QueryResult) => {
        if (res) charAsText(res);
        (last as (e: Error | null, r: pg.QueryResult) => void)(err, res);
      };
    }
    const result = (super.query as (...a: unknown[]) => unknown)(...args);
    if (result instanceof Promise) {
      return result.then((res: pg.QueryResult) => charAsText(res)) as never;
    }
    return result as never;
  }
}

function charAsText(res: pg.QueryResult): pg.QueryResult {
  for (const field of res.fields ?? []) {
    if (field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID;
  }
  return res;
}

// Fields, not a connectionString: the adapter's shadow database overrides `database`, which a
// connectionString would silently win over (the shadow would be the real database).
function poolConfig(databaseUrl: string): PoolConfig {
  const c = parseConnectionString(databaseUrl);
  return {
    host: c.host ?? undefined,
    port: c.port ? Number(c.port) : undefined,
    user: c.user,
    password: c.password,
    database: c.database ?? undefined,
    Client: CharAsTextClient,
  };
}

let wasmReady: Promise<void> | undefined;

// The engine reports Rust panics through this global; without it a panic surfaces as an
// unrelated TypeError. We keep the message and rethrow it from the failing call.
let lastPanic: string | undefined;
(globalThis as { PRISMA_WASM_PANIC_REGISTRY?: unknown }).PRISMA_WASM_PANIC_REGISTRY = {
  set_message: (message: string) => {
    lastPanic = message;
  },
};

function loadWasm(): Promise<void> {
  wasmReady ??= (async () => {
    const require = createRequire(import.meta.url);
    const bgPath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const bytes = await readFile(join(dirname(bgPath), 'schema_engine_bg.wasm'));
    const { instance } = await WebAssembly.instantiate(bytes, {
      './schema_engine_bg.js': engineBg as unknown as WebAssembly.ModuleImports,
    });
    const exports = instance.exports as WebAssembly.Exports & { __wbindgen_start: () => void };
    (engineBg as unknown as { __wbg_set_wasm: (e: WebAssembly.Exports) => void }).__wbg_set_wasm(exports);
    exports.__wbindgen_start();
  })();
  return wasmReady;
}

export interface MigrationFileSet {
  baseDir: string;
  lockfile: { path: string; content: string | null };
  shadowDbInitScript: string;
  migrationDirectories: MigrationDirectory[];
}

export async function readMigrations(): Promise<MigrationFileSet> {
  const entries = await readdir(MIGRATIONS_DIR).catch(() => [] as string[]);
  const dirs: MigrationDirectory[] = [];
  for (const name of entries.sort()) {
    const full = join(MIGRATIONS_DIR, name);
    if (!(await stat(full)).isDirectory()) continue;
    const sql = await readFile(join(full, 'migration.sql'), 'utf8');
    dirs.push({
      path: name,
      migrationFile: { path: 'migration.sql', content: { tag: 'ok', value: sql } },
    });
  }
  const lock = await readFile(join(MIGRATIONS_DIR, LOCKFILE), 'utf8').catch(() => null);
  return {
    baseDir: MIGRATIONS_DIR,
    lockfile: { path: LOCKFILE, content: lock },
    shadowDbInitScript: '',
    migrationDirectories: dirs,
  };
}

async function withEngine<T>(databaseUrl: string, fn: (engine: SchemaEngine, schema: string) => Promise<T>): Promise<T> {
  await loadWasm();
  const schema = await readFile(SCHEMA_PATH, 'utf8');
  const factory = new WholeScriptPg(poolConfig(databaseUrl));
  const adapter = bindMigrationAwareSqlAdapterFactory(factory);
  const { SchemaEngine: Engine } = engineBg as unknown as { SchemaEngine: typeof SchemaEngine };
  const engine = await Engine.new({ datamodels: [[SCHEMA_PATH, schema]] }, () => undefined, adapter);
  try {
    return await fn(engine, schema);
  } catch (err) {
    if (lastPanic) {
      const message = `schema engine panicked: ${lastPanic}`;
      lastPanic = undefined;
      throw new Error(message, { cause: err });
    }
    throw err;
  } finally {
    engine.free();
    await factory.closeAll();
  }
}

/** Applies every pending migration; returns the names applied now. */
export async function applyMigrations(databaseUrl: string): Promise<string[]> {
  const migrations = await readMigrations();
  return withEngine(databaseUrl, async (engine) => {
    const out = await engine.applyMigrations({ migrationsList: migrations, filters: NO_FILTERS });
    return out.appliedMigrationNames;
  });
}

/**
 * SQL that would bring the migrations up to schema.prisma (or `schemaText`); empty when they agree.
 * The partitioned tables' key differences and transfers' foreign keys are not drift (partitioned-drift.ts).
 */
export async function diffMigrationsToSchema(databaseUrl: string, schemaText?: string): Promise<string> {
  const migrations = await readMigrations();
  return withEngine(databaseUrl, async (engine, fileSchema) => {
    const schema = schemaText ?? fileSchema;
    const from =
      migrations.migrationDirectories.length === 0 ? ({ tag: 'empty' } as const) : ({ tag: 'migrations', ...migrations } as const);
    const result = await engine.diff({
      from,
      to: { tag: 'schemaDatamodel', files: [{ path: SCHEMA_PATH, content: schema }] },
      script: true,
      exitCode: null,
      filters: NO_FILTERS,
    });
    const sql = withoutAcceptedDrift(result.stdout ?? '');
    return /^\s*(-- This is an empty migration\.)?\s*$/.test(sql) ? '' : sql;
  });
}

export { MIGRATIONS_DIR, LOCKFILE };
