import { Controller, Get, Inject, type OnModuleDestroy } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { SkipThrottle } from '@nestjs/throttler';
import { Public } from '../auth/auth.decorators.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { TransactionRunner } from '../prisma/transaction-runner.js';
import { createRedis, type RedisClient } from '../redis/redis-factory.js';
import { withTimeout } from '../time/with-timeout.js';
import { HealthRepository } from './health.repository.js';

const PROBE_TIMEOUT_MS = 1_500;

@ApiTags('system')
@Public()
@SkipThrottle()
@Controller('health')
export class HealthController implements OnModuleDestroy {
  // A dedicated, fail-fast connection: readiness must answer "Redis is down", not hang.
  private readonly redis: RedisClient;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly tx: TransactionRunner,
    private readonly repo: HealthRepository,
  ) {
    this.redis = createRedis(config, 'probe');
    this.redis.on('error', () => undefined);
  }

  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      async () => {
        const s = this.indicators.check('postgres');
        try {
          await withTimeout(this.repo.ping(this.tx.root), PROBE_TIMEOUT_MS, 'postgres timed out');
          return s.up();
        } catch (err) {
          return s.down({ message: (err as Error).message });
        }
      },
      async () => {
        const s = this.indicators.check('redis');
        try {
          if (this.redis.status === 'wait' || this.redis.status === 'end') await this.redis.connect().catch(() => undefined);
          await withTimeout(this.redis.ping(), PROBE_TIMEOUT_MS, 'redis timed out');
          return s.up();
        } catch (err) {
          return s.down({ message: (err as Error).message });
        }
      },
    ]);
  }

  onModuleDestroy(): void {
    this.redis.disconnect();
  }
}
