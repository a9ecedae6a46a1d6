import WebSocket from 'ws';
import type { TestApp } from '../harness/test-app.js';

export interface StreamMessage {
  type: string;
  channel?: string;
  series?: string;
  seq?: number;
  data?: unknown;
  code?: string;
  detail?: string;
  [k: string]: unknown;
}

/** A real `ws` client on /v1/stream that records what arrives and waits for what a test expects. */
export class StreamClient {
  readonly messages: StreamMessage[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.messages.push(JSON.parse((data as Buffer).toString('utf8')) as StreamMessage);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    ws.on('error', () => undefined);
  }

  static async connect(t: TestApp, opts: { key?: string; autoPong?: boolean } = {}): Promise<StreamClient> {
    const ws = new WebSocket(`${t.baseUrl.replace('http', 'ws')}/v1/stream`, {
      headers: opts.key ? { authorization: `Bearer ${opts.key}` } : {},
      autoPong: opts.autoPong ?? true,
    });
    const client = new StreamClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The first recorded message (from index `from` on) that matches, waiting up to `ms`. */
  async next(match: (m: StreamMessage) => boolean, ms = 5_000, from = 0): Promise<StreamMessage> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.messages.slice(from).find(match);
      if (found) return found;
      if (this.closed)
        throw new Error(`closed (${this.closed.code}) before a matching message; last: ${JSON.stringify(this.messages.slice(-3))}`);
      if (Date.now() > deadline) throw new Error(`no matching message in ${ms} ms; last: ${JSON.stringify(this.messages.slice(-3))}`);
      await this.wait(deadline - Date.now());
    }
  }

  /** Sends a subscribe and answers its snapshot, or the error it got instead. */
  async subscribe(channel: string, series?: string): Promise<StreamMessage> {
    const from = this.messages.length;
    this.send({ op: 'subscribe', channel, ...(series ? { series } : {}) });
    return this.next((m) => (m.type === 'snapshot' && m.channel === channel) || m.type === 'error', 5_000, from);
  }

  /** Sends a request and answers the first reply after it (ack or error). */
  async request(message: unknown): Promise<StreamMessage> {
    const from = this.messages.length;
    this.send(message);
    return this.next((m) => m.type === 'ack' || m.type === 'error', 5_000, from);
  }

  /** Messages of one channel (and series) since its latest snapshot, that snapshot first. */
  stream(channel: string, series?: string): StreamMessage[] {
    const all = this.messages.filter((m) => m.channel === channel && (series === undefined || m.series === series));
    const last = all.findLastIndex((m) => m.type === 'snapshot');
    return last < 0 ? all : all.slice(last);
  }

  async waitFor(predicate: () => boolean, ms = 5_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`condition not met in ${ms} ms`);
      await this.wait(Math.min(50, deadline - Date.now()));
    }
  }

  async whenClosed(ms = 10_000): Promise<{ code: number; reason: string }> {
    await this.waitFor(() => this.closed !== undefined, ms);
    return this.closed!;
  }

  close(): void {
    this.ws.terminate();
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(ms, 1));
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** Polls until `predicate` holds (server-side state such as the gateway's stats). */
export async function eventually(predicate: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
