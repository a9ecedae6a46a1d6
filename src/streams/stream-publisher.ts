import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { createRedis, type RedisClient } from '../platform/redis/redis-factory.js';
import { listeningKey, redisChannel, type Channel, type StreamEvent } from './stream-events.js';

/** How often a gateway with subscribers to a channel says so again, and how long each saying lasts. */
export const PRESENCE_REFRESH_MS = 10_000;
const PRESENCE_TTL_MS = 60_000;
const HEARD_MS = 1_000;

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
  private readonly prefix: string;
  private failures = 0;
  /** Until when a channel is known to have a subscriber somewhere (a yes is kept a second; a no never). */
  private readonly heard = new Map<Channel, number>();

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    // Producer options: fail fast while Redis is away instead of queueing events in memory.
    this.redis = createRedis(config, 'producer');
    this.redis.on('error', () => undefined); // reconnects on its own; failures are counted per publish
    this.channel = redisChannel(config.queuePrefix);
    this.prefix = config.queuePrefix;
  }

  /**
   * Presence, for channels whose events are many and costly to build (jobs: every status change
   * of every delivery job): a gateway announces a channel when a client subscribes to it — before
   * it reads the snapshot — and again every PRESENCE_REFRESH_MS while any client stays; the key
   * lapses PRESENCE_TTL_MS after the last announcement.
   */
  async announce(channel: Channel): Promise<void> {
    await this.redis.set(listeningKey(this.prefix, channel), '1', 'PX', PRESENCE_TTL_MS);
  }

  /**
   * Whether any API copy has a subscriber to `channel`: asked after the commit, before building the
   * events. A "no" is always asked of Redis afresh, and that is what makes skipping safe: if the
   * answer came before a gateway's announcement, the commit came before it too, so the snapshot
   * that gateway reads after announcing already shows the change. A "yes" may be remembered for a
   * second (publishing to no one is only waste). Redis away: yes (the publish decides).
   */
  async listening(channel: Channel): Promise<boolean> {
    if ((this.heard.get(channel) ?? 0) > Date.now()) return true;
    const yes = await this.redis.exists(listeningKey(this.prefix, channel)).then(
      (n) => n > 0,
      () => true,
    );
    if (yes) this.heard.set(channel, Date.now() + HEARD_MS);
    return yes;
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
