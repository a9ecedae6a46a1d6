import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { inject } from 'vitest';
import { AppModule } from '../../src/app.module.js';
import { BootstrapService } from '../../src/staff/bootstrap.service.js';
import { loadEnvConfig, type AppConfig } from '../../src/platform/config/config.js';
import { configureApp } from '../../src/platform/http/configure-app.js';
import { PrismaService } from '../../src/platform/prisma/prisma.service.js';
import { createTestDatabase } from './databases.js';
import { ApiClient } from './http.js';

export interface TestApp {
  app: INestApplication;
  baseUrl: string;
  config: AppConfig;
  prisma: PrismaService;
  clearingKey: string;
  clearingMemberId: string;
  /** A client holding the bootstrap clearing key. */
  clearing: ApiClient;
  client(key?: string): ApiClient;
  close(): Promise<void>;
}

export interface TestAppOptions {
  redisUrl?: string;
  role?: AppConfig['role'];
  env?: NodeJS.ProcessEnv;
  /** Another copy of the service: the database and queues of this app (not dropped on close). */
  replicaOf?: TestApp;
  /** A database the caller owns (e.g. a private primary with a replica): used as is, not dropped. */
  databaseUrl?: string;
}

/** A fresh database and queue prefix, for a test file that brings its own app or processes. */
export async function testResources(): Promise<{ databaseUrl: string; redisUrl: string; queuePrefix: string; drop: () => Promise<void> }> {
  const db = await createTestDatabase(inject('adminDatabaseUrl'), inject('templateDatabase'));
  return {
    databaseUrl: db.url,
    redisUrl: inject('redisUrl'),
    queuePrefix: `{t${randomBytes(5).toString('hex')}}`,
    drop: db.drop,
  };
}

/** Boots the real Nest app on a random port over a fresh database and a private queue prefix. */
export async function startTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const res = opts.replicaOf
    ? {
        databaseUrl: opts.replicaOf.config.databaseUrl,
        redisUrl: opts.replicaOf.config.redisUrl,
        queuePrefix: opts.replicaOf.config.queuePrefix,
        drop: async () => undefined,
      }
    : opts.databaseUrl
      ? {
          databaseUrl: opts.databaseUrl,
          redisUrl: inject('redisUrl'),
          queuePrefix: `{t${randomBytes(5).toString('hex')}}`,
          drop: async () => undefined,
        }
      : await testResources();
  const env = loadEnvConfig({ NODE_ENV: 'test', LOG_LEVEL: 'warn', OUTBOX_POLL_MS: '50', ...opts.env });
  const config: AppConfig = {
    ...env,
    role: opts.role ?? 'all',
    databaseUrl: res.databaseUrl,
    redisUrl: opts.redisUrl ?? res.redisUrl,
    // A copy runs on the same Redis Cluster as the app it copies (REDIS_CLUSTER_NODES in `env`).
    redisClusterNodes: env.redisClusterNodes ?? opts.replicaOf?.config.redisClusterNodes,
    queuePrefix: res.queuePrefix,
    embedded: { ...env.embedded, postgres: false, redis: false },
  };
  const app = await NestFactory.create(AppModule.forRoot(config), { bufferLogs: true, bodyParser: false, forceCloseConnections: true });
  configureApp(app);
  const clearingKey = `tck_test_${randomBytes(24).toString('base64url')}`;
  const boot = await app.get(BootstrapService).ensureClearing(clearingKey);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    app,
    baseUrl,
    config,
    prisma: app.get(PrismaService),
    clearingKey,
    clearingMemberId: boot.clearingMemberId,
    clearing: new ApiClient(baseUrl, clearingKey),
    client: (key?: string) => new ApiClient(baseUrl, key),
    close: async () => {
      await app.close();
      await res.drop();
    },
  };
}
