import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { createRedis, type RedisClient } from '../platform/redis/redis-factory.js';
import { redisChannel, type StreamEvent } from './stream-events.js';

/**
 * How domains put events on /v1/stream: one Redis PUBLISH per call, received by the gateway of
 * every API copy (this one included), which numbers them per subscriber.
 *
 * The contract is "after COMMIT": a subscriber must never see a change that rolled back, so call
 * `publishAfterCommit` once the transaction's promise has resolved (or wrap that promise in
 * `afterCommit`), never inside the transaction callback. Publishing is best effort and never fails
 * the caller: the database is the record, a client that doubts its stream resubscribes for a
 * snapshot. Calls from one process reach Redis in call order, so publish in commit order.
 */
@Injectable()
export class StreamPublisher implements OnModuleDestroy {
  private readonly logger = new Logger(StreamPublisher.name);
  private readonly redis: RedisClient;
  private readonly channel: string;
  private failures = 0;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    // Producer options: fail fast while Redis is away instead of queueing events in memory.
    this.redis = createRedis(config, 'producer');
    this.redis.on('error', () => undefined); // reconnects on its own; failures are counted per publish
    this.channel = redisChannel(config.queuePrefix);
  }

  /** Fire and forget, for a transaction that has committed. Never throws, never waits on Redis. */
  publishAfterCommit(events: StreamEvent | readonly StreamEvent[]): void {
    this.publish(events).catch((err: unknown) => {
      this.failures++;
      this.logger.warn({ err: err instanceof Error ? err.message : String(err), failures: this.failures }, 'stream events not published');
    });
  }

  /** Runs after `committed` resolves (the transaction promise) and passes its result on. */
  async afterCommit<T>(committed: Promise<T>, events: (result: T) => StreamEvent | readonly StreamEvent[]): Promise<T> {
    const result = await committed;
    this.publishAfterCommit(events(result));
    return result;
  }

  /** Awaitable form (tests, scripts): rejects when Redis did not take the events. */
  async publish(events: StreamEvent | readonly StreamEvent[]): Promise<void> {
    const list = Array.isArray(events) ? events : [events as StreamEvent];
    if (list.length === 0) return;
    await this.redis.publish(this.channel, JSON.stringify(list));
  }

  /** Publishes that failed since start (Redis away): exposed for metrics and tests. */
  get failedPublishes(): number {
    return this.failures;
  }

  async onModuleDestroy(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
