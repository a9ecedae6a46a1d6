import { BullModule } from '@nestjs/bullmq';
import { Global, Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE, DiscoveryModule, Reflector } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ThrottlerGuard, type ThrottlerOptions } from '@nestjs/throttler';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import { AuditInterceptor } from './audit/audit.interceptor.js';
import { AuditRecorder } from './audit/audit-recorder.js';
import { AuditRepository } from './audit/audit.repository.js';
import { ApiKeyGuard } from './auth/api-key.guard.js';
import { RequestGuard } from './auth/request.guard.js';
import { ApiKeyRepository } from './auth/api-key.repository.js';
import { APP_CONFIG, type AppConfig } from './config/config.js';
import { ProblemFilter } from './errors/problem.filter.js';
import { HealthController } from './health/health.controller.js';
import { bearerOf, credentialTracker } from './http/throttle-trackers.js';
import { RedisThrottlerStorage } from './http/redis-throttler-storage.js';
import { HealthRepository } from './health/health.repository.js';
import { validationPipe } from './http/validation.js';
import { IdempotencyPurgeHandler } from './idempotency/idempotency-purge.handler.js';
import { IdempotencyInterceptor } from './idempotency/idempotency.interceptor.js';
import { IdempotencyRepository } from './idempotency/idempotency.repository.js';
import { PartitionsAheadHandler } from './partitions/partitions-ahead.handler.js';
import { PartitionsRepository } from './partitions/partitions.repository.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { Metrics } from './metrics/metrics.js';
import { PrismaService } from './prisma/prisma.service.js';
import { ReadDb } from './prisma/read-replica.js';
import { TransactionRunner } from './prisma/transaction-runner.js';
import { Clock } from './time/clock.js';
import { JobHandlers } from './queues/job-handlers.js';
import { QUEUE_NAMES } from './queues/job-registry.js';
import { OutboxRelay } from './queues/outbox-relay.js';
import { OutboxRepository } from './queues/outbox.repository.js';
import { OutboxService } from './queues/outbox.service.js';
import { Queues } from './queues/queues.js';
import { OwnedRedisClients } from './redis/owned-redis-clients.js';
import { WorkerHost } from './queues/worker-host.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,100}$/;

const shared = [
  PrismaService,
  ReadDb,
  TransactionRunner,
  ApiKeyRepository,
  IdempotencyRepository,
  PartitionsRepository,
  AuditRepository,
  AuditRecorder,
  OutboxRepository,
  OutboxService,
  Queues,
  Metrics,
  Clock,
];

@Global()
@Module({})
export class PlatformModule {
  static forRoot(config: AppConfig): DynamicModule {
    const redis = new OwnedRedisClients(config);
    const throttlerStorage = new RedisThrottlerStorage(redis.create('producer', { autoPipelining: true }), config.queuePrefix);
    // Per client address and per credential (API key or node token, by a hash of the bearer so
    // the tracker needs no database lookup), counted in Redis across all API copies.
    const throttlers: ThrottlerOptions[] = [
      // The per-address throttler keeps the name 'default', which @SkipThrottle() and @Throttle({ default }) name.
      { name: 'default', ttl: config.throttle.ttlMs, limit: config.throttle.limit },
      {
        name: 'credential',
        ttl: config.throttle.ttlMs,
        limit: config.throttle.keyLimit,
        skipIf: (ctx) => bearerOf(ctx.switchToHttp().getRequest<IncomingMessage>()) === undefined,
        getTracker: (req) => credentialTracker(bearerOf(req as unknown as IncomingMessage) ?? ''),
      },
    ];
    return {
      module: PlatformModule,
      imports: [
        DiscoveryModule,
        TerminusModule.forRoot({ errorLogStyle: 'pretty', logger: false }),
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.logLevel,
            // A caller's request id is kept when sane, so one id follows a request across systems.
            genReqId: (req: IncomingMessage, res: ServerResponse) => {
              const incoming = req.headers['x-request-id'];
              const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
              res.setHeader('X-Request-Id', id);
              return id;
            },
            redact: ['req.headers.authorization', 'req.headers.cookie'],
            autoLogging: { ignore: (req) => req.url?.startsWith('/health') === true || req.url === '/metrics' },
          },
        }),
        BullModule.forRoot({ connection: redis.create('producer'), prefix: config.queuePrefix }),
        BullModule.registerQueue(...QUEUE_NAMES.map((name) => ({ name }))),
      ],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        // A provider too, so Nest closes its Redis connection at shutdown.
        { provide: RedisThrottlerStorage, useValue: throttlerStorage },
        { provide: OwnedRedisClients, useValue: redis },
        ...shared,
        JobHandlers,
        OutboxRelay,
        HealthRepository,
        WorkerHost,
        IdempotencyPurgeHandler,
        PartitionsAheadHandler,
        {
          provide: APP_GUARD,
          inject: [Reflector, ApiKeyRepository],
          useFactory: async (reflector: Reflector, keys: ApiKeyRepository) => {
            // The library's guard, one per throttler, so RequestGuard can run them side by side.
            const guards = throttlers.map((t) => new ThrottlerGuard({ throttlers: [t] }, throttlerStorage, reflector));
            for (const g of guards) await g.onModuleInit();
            return new RequestGuard(new ApiKeyGuard(reflector, keys), guards);
          },
        },
        // Audit wraps idempotency: a replay is not a new state change and is not audited again.
        { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
        { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
        { provide: APP_FILTER, useClass: ProblemFilter },
        { provide: APP_PIPE, useValue: validationPipe },
      ],
      exports: [APP_CONFIG, ...shared, OutboxRelay, JobHandlers, BullModule],
    };
  }
}
