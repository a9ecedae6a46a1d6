import { Inject, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { WebSocketGateway, type OnGatewayConnection } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import { Counter, Gauge } from 'prom-client';
import type WebSocket from 'ws';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { Metrics } from '../platform/metrics/metrics.js';
import { createRedis, type RedisClient } from '../platform/redis/redis-factory.js';
import { StreamAuth } from './stream-auth.js';
import { StreamConnection } from './stream-connection.js';
import { decodeEvents, redisChannel } from './stream-events.js';
import { StreamHub } from './stream-hub.js';
import { PRESENCE_REFRESH_MS, StreamPublisher } from './stream-publisher.js';
import { StreamSnapshots } from './stream-snapshots.service.js';

// Client frames are small JSON requests; anything bigger is refused by ws itself (close 1009).
const MAX_CLIENT_FRAME_BYTES = 16 * 1024;
// Boot does not wait on Redis forever for the fan-out subscription; ioredis keeps trying after.
const SUBSCRIBE_WAIT_MS = 5_000;

/**
 * /v1/stream on the HTTP server's port (WsAdapter, configure-app.ts). Every API copy keeps one
 * Redis subscriber connection and delivers each published event to its own matching
 * subscriptions, numbering them per subscriber.
 */
@WebSocketGateway({ path: '/v1/stream', maxPayload: MAX_CLIENT_FRAME_BYTES })
export class StreamGateway implements OnGatewayConnection, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(StreamGateway.name);
  private readonly hub = new StreamHub((sub, err) => this.logger.error({ err, channel: sub.channel }, 'stream delivery failed'));
  private readonly connections = new Set<StreamConnection>();
  private subscriber: RedisClient | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private presence: NodeJS.Timeout | undefined;
  private readonly slowConsumers: Counter;
  private slowConsumersClosed = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly auth: StreamAuth,
    private readonly snapshots: StreamSnapshots,
    private readonly publisher: StreamPublisher,
    metrics: Metrics,
  ) {
    const connections = this.connections;
    new Gauge({
      name: 'stream_connections',
      help: 'Open /v1/stream connections on this API copy',
      registers: [metrics.registry],
      collect() {
        this.set(connections.size);
      },
    });
    this.slowConsumers = new Counter({
      name: 'stream_slow_consumers_closed_total',
      help: '/v1/stream connections closed with 1013 for not reading fast enough',
      registers: [metrics.registry],
    });
  }

  async onModuleInit(): Promise<void> {
    // A worker-only process publishes but serves no sockets: it needs no subscriber.
    if (this.config.role === 'worker') return;
    const subscriber = createRedis(this.config, 'worker');
    this.subscriber = subscriber;
    let connectedBefore = false;
    subscriber.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'stream fan-out: redis error'));
    subscriber.on('ready', () => {
      // ioredis resubscribes by itself; what was published meanwhile is gone, so snapshot again.
      if (connectedBefore) for (const conn of this.connections) conn.resnapshot();
      connectedBefore = true;
    });
    subscriber.on('message', (_channel: string, payload: string) => {
      // Every copy receives every event; one with no subscriber has nothing to decode it for.
      if (this.hub.size > 0) this.hub.deliver(decodeEvents(payload));
    });
    let waited: NodeJS.Timeout | undefined;
    await Promise.race([
      subscriber.subscribe(redisChannel(this.config.queuePrefix)),
      new Promise<void>((resolve) => (waited = setTimeout(resolve, SUBSCRIBE_WAIT_MS))),
    ]).catch((err: unknown) => this.logger.warn({ err }, 'stream fan-out: subscribe failed; retrying in the background'));
    clearTimeout(waited);
    this.heartbeat = setInterval(() => {
      for (const conn of this.connections) conn.heartbeat();
    }, this.config.streams.pingIntervalMs);
    this.heartbeat.unref();
    // While clients stay subscribed, their channels stay announced (the key lapses otherwise).
    this.presence = setInterval(() => {
      for (const channel of this.hub.channels())
        this.publisher
          .announce(channel)
          .catch((err: Error) => this.logger.warn({ err: err.message, channel }, 'stream presence not renewed'));
    }, PRESENCE_REFRESH_MS);
    this.presence.unref();
  }

  handleConnection(ws: WebSocket, req: IncomingMessage): void {
    const conn = new StreamConnection(ws, req, {
      hub: this.hub,
      auth: this.auth,
      snapshots: this.snapshots,
      limits: this.config.streams,
      logger: this.logger,
      announce: (channel) => this.publisher.announce(channel),
      onClosed: (c) => this.connections.delete(c),
      onSlowConsumer: () => {
        this.slowConsumersClosed++;
        this.slowConsumers.inc();
      },
    });
    this.connections.add(conn);
  }

  /** What this copy holds right now (tests and diagnostics). */
  stats(): { connections: number; subscriptions: number; bufferedBytes: number; slowConsumersClosed: number } {
    let bufferedBytes = 0;
    for (const conn of this.connections) bufferedBytes += conn.bufferedBytes;
    return {
      connections: this.connections.size,
      subscriptions: this.hub.size,
      bufferedBytes,
      slowConsumersClosed: this.slowConsumersClosed,
    };
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.heartbeat);
    clearInterval(this.presence);
    for (const conn of this.connections) conn.goAway();
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }
}
