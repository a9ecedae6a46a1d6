import type { OnApplicationShutdown } from '@nestjs/common';
import { createRedis, type RedisClient, type RedisClientOptions, type RedisRole, type RedisTarget } from './redis-factory.js';

/**
 * Clients made while modules are wired (BullModule.forRoot, the rate limiter), before DI exists:
 * BullMQ leaves a passed-in client open, so this provider closes them at shutdown.
 */
export class OwnedRedisClients implements OnApplicationShutdown {
  private readonly clients: RedisClient[] = [];

  constructor(private readonly target: RedisTarget) {}

  create(role: RedisRole, opts?: RedisClientOptions): RedisClient {
    const client = createRedis(this.target, role, opts);
    this.clients.push(client);
    return client;
  }

  onApplicationShutdown(): void {
    for (const c of this.clients.splice(0)) c.disconnect();
  }
}
