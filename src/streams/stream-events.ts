import type { jobEventView, obligationView } from '../delivery/delivery-views.js';
import type { SeriesStatus } from '../generated/prisma/enums.js';
import type { orderView } from '../markets/market-data.service.js';
import type { Principal } from '../platform/http/request-context.js';

// The /v1/stream protocol as plain data and functions: what publishers send, what clients may
// ask, who may see what. No Nest, no sockets, so it is unit-tested on its own.

export const PUBLIC_CHANNELS = ['book', 'trades', 'series'] as const;
export const PRIVATE_CHANNELS = ['orders', 'jobs', 'margin-calls', 'obligations'] as const;
export type PublicChannel = (typeof PUBLIC_CHANNELS)[number];
export type PrivateChannel = (typeof PRIVATE_CHANNELS)[number];
export type Channel = PublicChannel | PrivateChannel;

const CHANNELS: ReadonlySet<string> = new Set<string>([...PUBLIC_CHANNELS, ...PRIVATE_CHANNELS]);
const PRIVATE: ReadonlySet<string> = new Set<string>(PRIVATE_CHANNELS);

export const isPrivate = (c: Channel): c is PrivateChannel => PRIVATE.has(c);

/** One price level after a change: the total open quantity now resting there (0 = level gone). */
export interface BookLevel {
  side: 'BUY' | 'SELL';
  /** Decimal string in CNY, like every price in the API. */
  price: string;
  quantity: number;
}

export interface BookDelta {
  levels: BookLevel[];
  /**
   * Optional, increasing per series in commit order (e.g. the batch's highest order seq). Levels
   * are absolute, so replaying one is harmless; the version lets a subscriber drop a delta that
   * arrives after a newer one (two API copies publishing for the same series).
   */
  version?: number;
}

/** A trade as the public sees it: no member ids. */
export interface PublicTrade {
  id: string;
  series: string;
  price: string;
  currency: 'CNY';
  quantity: number;
  block: boolean;
  createdAt: string;
}

export type SeriesEvent =
  | { kind: 'status'; status: SeriesStatus; at: string }
  | { kind: 'settlement-price'; businessDate: string; price: string; currency: 'CNY'; method?: string; final?: boolean };

export type OrderEvent = ReturnType<typeof orderView>;
export type JobEvent = ReturnType<typeof jobEventView>;
export type ObligationEvent = ReturnType<typeof obligationView>;
export interface MarginCallEvent {
  id: string;
  memberId: string;
  runId: string | null;
  businessDate: string;
  amount: string;
  currency: 'CNY';
  dueAt: string;
  status: 'OPEN' | 'CLOSED';
  closedAt: string | null;
}

/**
 * What a domain publishes. Private events name the members allowed to see them (`memberIds`,
 * e.g. buyer and seller of a job); clearing staff see every private event. `memberIds` never
 * reaches a client.
 */
export type StreamEvent =
  | { channel: 'book'; series: string; data: BookDelta }
  | { channel: 'trades'; series: string; data: PublicTrade }
  | { channel: 'series'; series: string; data: SeriesEvent }
  | { channel: 'orders'; series: string; memberIds: readonly string[]; data: OrderEvent }
  | { channel: 'jobs'; series: string; memberIds: readonly string[]; data: JobEvent }
  | { channel: 'obligations'; series: string; memberIds: readonly string[]; data: ObligationEvent }
  | { channel: 'margin-calls'; memberIds: readonly string[]; data: MarginCallEvent };

export type MessageType = 'snapshot' | 'delta' | 'event';

export const messageTypeOf = (channel: Channel): MessageType => (channel === 'book' ? 'delta' : 'event');

// Stable error codes sent as {type: "error", code, detail}. Clients switch on these.
export type StreamErrorCode =
  | 'BAD_JSON'
  | 'INVALID_MESSAGE'
  | 'UNKNOWN_OP'
  | 'UNKNOWN_CHANNEL'
  | 'SERIES_REQUIRED'
  | 'SERIES_NOT_APPLICABLE'
  | 'NOT_FOUND'
  | 'UNAUTHENTICATED'
  | 'API_KEY_REVOKED'
  | 'MEMBER_SUSPENDED'
  | 'ALREADY_AUTHENTICATED'
  | 'NOT_SUBSCRIBED'
  | 'TOO_MANY_SUBSCRIPTIONS'
  | 'SNAPSHOT_FAILED';

export class StreamError extends Error {
  constructor(
    readonly code: StreamErrorCode,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'StreamError';
  }
}

export type ClientMessage = { op: 'auth'; key: string } | { op: 'subscribe' | 'unsubscribe'; channel: Channel; series?: string };

const SERIES_CODE = /^[A-Za-z0-9._-]{1,64}$/;
const KEY = /^[A-Za-z0-9_-]{16,256}$/;

/** A client frame checked field by field; throws StreamError with the code to send back. */
export function parseClientMessage(raw: string): ClientMessage {
  let msg: unknown;
  try {
    msg = JSON.parse(raw);
  } catch {
    throw new StreamError('BAD_JSON', 'message is not valid JSON');
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg))
    throw new StreamError('INVALID_MESSAGE', 'message must be a JSON object');
  const m = msg as Record<string, unknown>;
  if (typeof m.op !== 'string') throw new StreamError('INVALID_MESSAGE', 'op is required');
  if (m.op === 'auth') {
    if (typeof m.key !== 'string' || !KEY.test(m.key)) throw new StreamError('UNAUTHENTICATED', 'key must be an API key (tck_…)');
    return { op: 'auth', key: m.key };
  }
  if (m.op !== 'subscribe' && m.op !== 'unsubscribe') throw new StreamError('UNKNOWN_OP', 'op is one of auth, subscribe, unsubscribe');
  if (typeof m.channel !== 'string') throw new StreamError('INVALID_MESSAGE', 'channel is required');
  if (!CHANNELS.has(m.channel)) {
    throw new StreamError('UNKNOWN_CHANNEL', `channel is one of ${[...PUBLIC_CHANNELS, ...PRIVATE_CHANNELS].join(', ')}`);
  }
  const channel = m.channel as Channel;
  if (m.series !== undefined && (typeof m.series !== 'string' || !SERIES_CODE.test(m.series))) {
    throw new StreamError('INVALID_MESSAGE', 'series must be a series code');
  }
  const series = m.series as string | undefined;
  if (m.op === 'subscribe' && channel === 'book' && series === undefined) throw new StreamError('SERIES_REQUIRED', 'book needs a series');
  if (channel === 'margin-calls' && series !== undefined)
    throw new StreamError('SERIES_NOT_APPLICABLE', 'margin calls are per member, not per series');
  return series === undefined ? { op: m.op, channel } : { op: m.op, channel, series };
}

/** Same scoping as the REST API (ownership.ts): clearing sees all, a member only its own. */
export function canSee(principal: Principal | undefined, event: StreamEvent): boolean {
  if (!('memberIds' in event)) return true;
  if (!principal) return false;
  return principal.role === 'clearing' || event.memberIds.includes(principal.memberId);
}

export const subscriptionKey = (channel: Channel, series: string | undefined): string => `${channel}|${series ?? '*'}`;

/** The Redis pub/sub channel of one deployment; the queue prefix keeps test apps (and stacks) apart. */
export const redisChannel = (queuePrefix: string): string => `${queuePrefix}:streams:events`;

/** Set while some API copy has a subscription to `channel` (StreamPublisher.announce). */
export const listeningKey = (queuePrefix: string, channel: Channel): string => `${queuePrefix}:streams:listening:${channel}`;

/** Events travel through Redis as a JSON array; anything else there is ignored, not trusted. */
export function decodeEvents(payload: string): StreamEvent[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed.filter(
    (e): e is StreamEvent =>
      typeof e === 'object' &&
      e !== null &&
      typeof (e as { channel?: unknown }).channel === 'string' &&
      CHANNELS.has((e as { channel: string }).channel) &&
      (PRIVATE.has((e as { channel: string }).channel) ? Array.isArray((e as { memberIds?: unknown }).memberIds) : true),
  );
}
