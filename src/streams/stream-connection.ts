import type { Logger } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { parseBearer } from '../platform/auth/api-key.js';
import type { AppConfig } from '../platform/config/config.js';
import { DomainError } from '../platform/errors/error-codes.js';
import type { Principal } from '../platform/http/request-context.js';
import type { StreamAuth } from './stream-auth.js';
import {
  canSee,
  isPrivate,
  messageTypeOf,
  parseClientMessage,
  StreamError,
  subscriptionKey,
  type Channel,
  type StreamErrorCode,
  type StreamEvent,
} from './stream-events.js';
import type { StreamHub, Subscriber } from './stream-hub.js';
import type { StreamSnapshots } from './stream-snapshots.service.js';

// Close codes: 1013 "try again later" for slow consumers (the spec's), 1008 "policy violation"
// for refused keys, idle and flooding connections, 1001 "going away" at shutdown.
export const CLOSE_SLOW_CONSUMER = 1013;
export const CLOSE_POLICY = 1008;
export const CLOSE_GOING_AWAY = 1001;

// Events arriving while a snapshot loads wait here; a subscription that falls this far behind
// before it even started is a slow consumer too.
const MAX_PENDING_EVENTS = 10_000;
// Client requests are handled one at a time; a client that queues more than this is flooding.
const MAX_QUEUED_REQUESTS = 64;

export interface ConnectionDeps {
  hub: StreamHub;
  auth: StreamAuth;
  snapshots: StreamSnapshots;
  limits: AppConfig['streams'];
  logger: Logger;
  /** Tells every copy's publishers that this channel has a subscriber (StreamPublisher.announce). */
  announce(channel: Channel): Promise<void>;
  onClosed(conn: StreamConnection): void;
  onSlowConsumer(): void;
}

/** One channel (and optional series) of one connection, with its own gapless seq. */
class Subscription implements Subscriber {
  private seq = 0;
  private pending: [StreamEvent, string][] | null = [];
  private lastVersion = 0;

  constructor(
    private readonly conn: StreamConnection,
    readonly channel: Channel,
    readonly series: string | undefined,
  ) {}

  matches(event: StreamEvent): boolean {
    if (this.series !== undefined && 'series' in event && event.series !== this.series) return false;
    return canSee(this.conn.principal, event);
  }

  push(event: StreamEvent, dataJson: string): void {
    if (this.pending) {
      if (this.pending.length >= MAX_PENDING_EVENTS) return this.conn.slowConsumer();
      this.pending.push([event, dataJson]);
      return;
    }
    this.emit(event, dataJson);
  }

  /** Snapshot as seq 1, then whatever arrived while it loaded. */
  start(snapshot: unknown): void {
    this.seq = 1;
    this.conn.sendFrame(this.channel, this.series, 1, 'snapshot', JSON.stringify(snapshot));
    const waiting = this.pending ?? [];
    this.pending = null;
    for (const [event, json] of waiting) this.emit(event, json);
  }

  private emit(event: StreamEvent, dataJson: string): void {
    if (event.channel === 'book' && event.data.version !== undefined) {
      if (event.data.version <= this.lastVersion) return;
      this.lastVersion = event.data.version;
    }
    const series = 'series' in event ? event.series : undefined;
    this.conn.sendFrame(this.channel, series, ++this.seq, messageTypeOf(this.channel), dataJson);
  }
}

/**
 * One client socket: its principal, its subscriptions, its requests handled strictly in order
 * (an unsubscribe never overtakes the subscribe before it), and the limits that protect the
 * server from it (unsent bytes, queued requests, idle time, missed pongs).
 */
export class StreamConnection {
  principal: Principal | undefined;
  private credentialHash: string | undefined;
  private readonly subs = new Map<string, Subscription>();
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private alive = true;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ws: WebSocket,
    req: IncomingMessage,
    private readonly deps: ConnectionDeps,
  ) {
    ws.on('message', (data, isBinary) => this.enqueue(() => this.onMessage(data, isBinary)));
    ws.on('pong', () => (this.alive = true));
    ws.on('close', () => this.dispose());
    const header = req.headers.authorization;
    if (header !== undefined) this.enqueue(() => this.authenticate(parseBearer(header)));
    this.armIdle();
  }

  /** An unauthenticated connection with nothing subscribed is idle; it gets idleTimeoutMs to change that. */
  private armIdle(): void {
    if (this.closed || this.principal || this.subs.size > 0) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
      return;
    }
    this.idleTimer ??= setTimeout(() => {
      this.idleTimer = undefined;
      if (!this.principal && this.subs.size === 0) this.shut(CLOSE_POLICY, 'idle: authenticate or subscribe');
    }, this.deps.limits.idleTimeoutMs);
  }

  /** Bytes written to the socket but not yet taken by the peer. */
  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  get subscriptionCount(): number {
    return this.subs.size;
  }

  /** Called every ping interval: drop a peer that missed the last ping, re-check its key. */
  heartbeat(): void {
    if (this.closed) return;
    if (!this.alive) {
      this.deps.logger.debug('stream peer missed a pong; dropped');
      this.ws.terminate();
      return;
    }
    this.alive = false;
    this.ws.ping();
    const hash = this.credentialHash;
    if (hash) {
      this.deps.auth.recheck(hash).catch((err: unknown) => {
        if (err instanceof StreamError) this.refuse(err);
      });
    }
  }

  /** Redis fan-out was interrupted: events may be lost, so every subscription starts again. */
  resnapshot(): void {
    for (const sub of this.subs.values()) this.enqueue(() => this.subscribe(sub.channel, sub.series));
  }

  /** Shutdown of this API copy. */
  goAway(): void {
    this.shut(CLOSE_GOING_AWAY, 'server shutting down');
  }

  sendFrame(channel: Channel, series: string | undefined, seq: number, type: string, dataJson: string): void {
    const seriesPart = series === undefined ? '' : `,"series":${JSON.stringify(series)}`;
    this.sendRaw(`{"channel":"${channel}"${seriesPart},"seq":${seq},"type":"${type}","data":${dataJson}}`);
  }

  slowConsumer(): void {
    if (this.closed) return;
    this.deps.onSlowConsumer();
    this.shut(CLOSE_SLOW_CONSUMER, 'slow consumer: resubscribe for a snapshot');
  }

  private sendRaw(frame: string): void {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(frame);
    if (this.ws.bufferedAmount > this.deps.limits.maxBufferBytes) this.slowConsumer();
  }

  private sendJson(message: Record<string, unknown>): void {
    this.sendRaw(JSON.stringify(message));
  }

  private sendError(code: StreamErrorCode, detail: string, extra: Record<string, unknown> = {}): void {
    this.sendJson({ type: 'error', code, detail, ...extra });
  }

  private enqueue(task: () => Promise<void>): void {
    if (this.closed) return;
    if (++this.queued > MAX_QUEUED_REQUESTS) {
      this.shut(CLOSE_POLICY, 'too many requests in flight');
      return;
    }
    this.queue = this.queue
      .then(() => (this.closed ? undefined : task()))
      .catch((err: unknown) => this.deps.logger.error({ err }, 'stream request failed'))
      .finally(() => this.queued--);
  }

  private async onMessage(data: WebSocket.RawData, isBinary: boolean): Promise<void> {
    let msg;
    try {
      if (isBinary) throw new StreamError('INVALID_MESSAGE', 'send text frames of JSON');
      msg = parseClientMessage(rawText(data));
    } catch (err) {
      if (err instanceof StreamError) return this.sendError(err.code, err.detail);
      throw err;
    }
    if (msg.op === 'auth') {
      if (this.principal) return this.sendError('ALREADY_AUTHENTICATED', 'this connection is already authenticated');
      return this.authenticate(msg.key);
    }
    const context = msg.series === undefined ? { channel: msg.channel } : { channel: msg.channel, series: msg.series };
    try {
      if (msg.op === 'subscribe') await this.subscribe(msg.channel, msg.series);
      else this.unsubscribe(msg.channel, msg.series);
      this.armIdle();
    } catch (err) {
      this.armIdle();
      if (err instanceof StreamError) return this.sendError(err.code, err.detail, context);
      if (err instanceof DomainError && err.code === 'NOT_FOUND') return this.sendError('NOT_FOUND', err.message, context);
      this.deps.logger.error({ err, ...context }, 'stream snapshot failed');
      this.sendError('SNAPSHOT_FAILED', 'the snapshot could not be read; try again', context);
    }
  }

  private async authenticate(key: string | undefined): Promise<void> {
    try {
      if (!key) throw new StreamError('UNAUTHENTICATED', 'Send Authorization: Bearer <api key>');
      const credential = await this.deps.auth.authenticate(key);
      if (this.closed) return;
      this.principal = credential.principal;
      this.credentialHash = credential.hash;
      this.armIdle();
      this.sendJson({ type: 'ack', op: 'auth', memberId: credential.principal.memberId, role: credential.principal.role });
    } catch (err) {
      if (err instanceof StreamError) return this.refuse(err);
      throw err;
    }
  }

  /** A refused key ends the connection: no second guess on the same socket. */
  private refuse(err: StreamError): void {
    this.sendError(err.code, err.detail);
    this.shut(CLOSE_POLICY, err.code);
  }

  private async subscribe(channel: Channel, series: string | undefined): Promise<void> {
    if (isPrivate(channel) && !this.principal) {
      throw new StreamError('UNAUTHENTICATED', `${channel} is private: authenticate first ({op: "auth", key} or Authorization header)`);
    }
    const key = subscriptionKey(channel, series);
    const previous = this.subs.get(key);
    // Resubscribing replaces the subscription: a fresh snapshot, seq from 1 again.
    if (previous) this.drop(key, previous);
    else if (this.subs.size >= this.deps.limits.maxSubscriptions) {
      throw new StreamError('TOO_MANY_SUBSCRIPTIONS', `at most ${this.deps.limits.maxSubscriptions} subscriptions per connection`);
    }
    // Listen before reading, so nothing committed between the read and the first delta is missed;
    // what the snapshot already shows is harmless to replay (book levels are absolute).
    const sub = new Subscription(this, channel, series);
    this.subs.set(key, sub);
    this.deps.hub.add(sub);
    // Announced before the snapshot is read: a publisher that skipped a change because nobody
    // listened did so before this, so the snapshot shows it. Redis away: nothing is published
    // either, and the gateway has every connection resnapshot once Redis is back.
    await this.deps
      .announce(channel)
      .catch((err: Error) => this.deps.logger.warn({ err: err.message, channel }, 'stream presence not announced'));
    let snapshot: unknown;
    try {
      snapshot = await this.deps.snapshots.load(channel, series, this.principal);
    } catch (err) {
      if (this.subs.get(key) === sub) this.drop(key, sub);
      throw err;
    }
    if (this.subs.get(key) === sub) sub.start(snapshot);
  }

  private unsubscribe(channel: Channel, series: string | undefined): void {
    const key = subscriptionKey(channel, series);
    const sub = this.subs.get(key);
    if (!sub) throw new StreamError('NOT_SUBSCRIBED', `not subscribed to ${channel}${series ? ` ${series}` : ''}`);
    this.drop(key, sub);
    this.sendJson({ type: 'ack', op: 'unsubscribe', channel, ...(series === undefined ? {} : { series }) });
  }

  private drop(key: string, sub: Subscription): void {
    this.subs.delete(key);
    this.deps.hub.remove(sub);
  }

  private dropAll(): void {
    for (const [key, sub] of this.subs) this.drop(key, sub);
  }

  /**
   * Starts the close handshake and lets go of everything this connection holds at once. The
   * close frame queues behind unsent data, so a peer that does not read is cut after the grace.
   */
  private shut(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.dropAll();
    clearTimeout(this.idleTimer);
    this.ws.close(code, reason);
    this.graceTimer = setTimeout(() => this.ws.terminate(), this.deps.limits.closeGraceMs);
    this.graceTimer.unref();
  }

  private dispose(): void {
    this.closed = true;
    this.dropAll();
    clearTimeout(this.idleTimer);
    clearTimeout(this.graceTimer);
    this.deps.onClosed(this);
  }
}

function rawText(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
