// The /v1/stream client for Node and the browser: connect, authenticate, subscribe, and keep it
// so — reconnect with backoff and subscribe again after a drop, and resubscribe (for a fresh
// snapshot) when a subscription's seq skips. Uses the WebSocket global (browsers, Node >= 22) or
// the implementation passed in (e.g. `ws`).

export type StreamChannel = 'book' | 'trades' | 'series' | 'orders' | 'jobs' | 'margin-calls' | 'obligations';

export interface StreamMessage<D = unknown> {
  channel: StreamChannel;
  series?: string;
  seq: number;
  type: 'snapshot' | 'delta' | 'event';
  data: D;
}

export interface StreamProblem {
  type: 'error';
  code: string;
  detail: string;
  channel?: string;
  series?: string;
}

/** The part of the WebSocket API used here (browser, Node's global and `ws` all have it). */
interface Socket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
type SocketConstructor = new (url: string) => Socket;

export interface StreamClientOptions {
  /** ws(s)://host:port/v1/stream, or the API's http(s) origin (the path is added). */
  url: string;
  /** Sent as `{op: "auth"}` first on every connection (browsers cannot set the upgrade header). */
  key?: string | (() => string | null | undefined);
  WebSocket?: SocketConstructor;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Server errors (a refused key, an unknown series) and connection state changes. */
  onProblem?: (problem: StreamProblem) => void;
  onState?: (state: 'open' | 'closed') => void;
}

type Handler = (message: StreamMessage) => void;

interface Subscription {
  channel: StreamChannel;
  series: string | undefined;
  handlers: Set<Handler>;
  /** Last seq delivered; 0 while waiting for the snapshot. */
  seq: number;
}

// 1008: the key was refused (or idle without one); 1000: closed by us. Others reconnect.
const NO_RETRY = new Set([1008]);

export class TokenClearStream {
  private socket: Socket | undefined;
  private readonly subs = new Map<string, Subscription>();
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  /** Resubscriptions after a seq gap (tests, diagnostics). */
  gaps = 0;
  reconnects = 0;

  constructor(private readonly options: StreamClientOptions) {
    this.connect();
  }

  /** Calls `handler` with the subscription's snapshot and every message after it; returns the unsubscribe. */
  subscribe<D = unknown>(channel: StreamChannel, series: string | undefined, handler: (message: StreamMessage<D>) => void): () => void {
    const key = `${channel}|${series ?? '*'}`;
    let sub = this.subs.get(key);
    if (!sub) {
      sub = { channel, series, handlers: new Set(), seq: 0 };
      this.subs.set(key, sub);
      this.send({ op: 'subscribe', channel, ...(series === undefined ? {} : { series }) });
    }
    const h = handler as Handler;
    sub.handlers.add(h);
    const owned = sub;
    return () => {
      owned.handlers.delete(h);
      if (owned.handlers.size > 0 || this.subs.get(key) !== owned) return;
      this.subs.delete(key);
      this.send({ op: 'unsubscribe', channel, ...(series === undefined ? {} : { series }) });
    };
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close(1000, 'client closed');
  }

  private connect(): void {
    const Impl = this.options.WebSocket ?? (globalThis as { WebSocket?: SocketConstructor }).WebSocket;
    if (!Impl) throw new Error('no WebSocket implementation: pass one (e.g. the ws package) as options.WebSocket');
    const socket = new Impl(streamUrl(this.options.url));
    this.socket = socket;
    socket.onopen = () => {
      this.attempts = 0;
      const key = typeof this.options.key === 'function' ? this.options.key() : this.options.key;
      if (key) socket.send(JSON.stringify({ op: 'auth', key }));
      // Requests are handled in order: every subscribe below runs authenticated.
      for (const sub of this.subs.values()) {
        sub.seq = 0;
        socket.send(JSON.stringify({ op: 'subscribe', channel: sub.channel, ...(sub.series === undefined ? {} : { series: sub.series }) }));
      }
      this.options.onState?.('open');
    };
    socket.onmessage = (ev) => this.receive(typeof ev.data === 'string' ? ev.data : String(ev.data));
    socket.onerror = () => undefined; // a close follows
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.options.onState?.('closed');
      if (this.stopped || NO_RETRY.has(ev.code)) return;
      const min = this.options.minBackoffMs ?? 250;
      const max = this.options.maxBackoffMs ?? 10_000;
      const wait = Math.min(max, min * 2 ** Math.min(this.attempts++, 10));
      this.reconnects++;
      // ±20 % so that a fleet of clients does not come back in lockstep.
      this.timer = setTimeout(() => this.connect(), Math.round(wait * (0.8 + Math.random() * 0.4)));
    };
  }

  private receive(raw: string): void {
    let msg: StreamMessage | StreamProblem | { type: 'ack' };
    try {
      msg = JSON.parse(raw) as typeof msg;
    } catch {
      return;
    }
    if (msg.type === 'error') return this.options.onProblem?.(msg);
    if (msg.type === 'ack') return;
    const sub = this.subs.get(`${msg.channel}|${msg.series ?? '*'}`) ?? this.subs.get(`${msg.channel}|*`);
    if (!sub) return;
    if (msg.type === 'snapshot') sub.seq = msg.seq;
    else if (sub.seq === 0)
      return; // a gap was seen: wait for the fresh snapshot
    else if (msg.seq !== sub.seq + 1) {
      this.gaps++;
      sub.seq = 0;
      this.send({ op: 'subscribe', channel: sub.channel, ...(sub.series === undefined ? {} : { series: sub.series }) });
      return;
    } else sub.seq = msg.seq;
    for (const h of sub.handlers) h(msg);
  }

  private send(message: unknown): void {
    // Not open yet: onopen subscribes everything in `subs`.
    if (this.socket?.readyState === 1) this.socket.send(JSON.stringify(message));
  }
}

function streamUrl(url: string): string {
  const u = new URL(url, (globalThis as { location?: { href: string } }).location?.href);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  if (!u.pathname.endsWith('/v1/stream')) u.pathname = `${u.pathname.replace(/\/$/, '')}/v1/stream`;
  return u.toString();
}

/** A book kept from a `book` subscription: the snapshot, then absolute level totals (0 removes). */
export interface BookSide {
  price: string;
  quantity: number;
}
export interface LiveBook {
  bids: BookSide[];
  asks: BookSide[];
}

export function applyBookMessage(book: LiveBook | undefined, message: StreamMessage): LiveBook {
  if (message.type === 'snapshot') {
    const snap = message.data as LiveBook;
    return {
      bids: snap.bids.map(({ price, quantity }) => ({ price, quantity })),
      asks: snap.asks.map(({ price, quantity }) => ({ price, quantity })),
    };
  }
  const next = { bids: [...(book?.bids ?? [])], asks: [...(book?.asks ?? [])] };
  for (const l of (message.data as { levels: { side: 'BUY' | 'SELL'; price: string; quantity: number }[] }).levels) {
    const side = l.side === 'BUY' ? next.bids : next.asks;
    const at = side.findIndex((x) => x.price === l.price);
    if (at >= 0) side.splice(at, 1);
    if (l.quantity > 0) side.push({ price: l.price, quantity: l.quantity });
  }
  // Prices are decimal strings with the same scale per series: compare as numbers.
  next.bids.sort((a, b) => compareFen(b.price, a.price));
  next.asks.sort((a, b) => compareFen(a.price, b.price));
  return next;
}

/** Orders two decimal CNY prices ("4.20") by their integer fen, never through a float. */
function compareFen(a: string, b: string): number {
  const fen = (p: string) => {
    const [whole, decimals = ''] = p.split('.');
    return BigInt(whole) * 100n + BigInt(decimals.padEnd(2, '0'));
  };
  const x = fen(a);
  const y = fen(b);
  return x === y ? 0 : x < y ? -1 : 1;
}
