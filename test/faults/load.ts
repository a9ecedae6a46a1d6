import { randomUUID } from 'node:crypto';
import { formatFen } from '../../src/platform/money/money.js';

/** mulberry32: a tiny seeded PRNG, so a failing run can be replayed with its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Ack {
  kind: 'order' | 'deposit' | 'withdrawal' | 'job';
  key: string;
  id: string;
  memberId: string;
}

export interface Actor {
  id: string;
  key: string;
  kind: 'OPERATOR' | 'BUYER' | 'TRADER';
}

/**
 * Drives trades, deposits, withdrawals and delivery jobs at the API processes. Each request has
 * an Idempotency-Key and is retried with the same key until acknowledged (or given up): only an
 * acknowledged request goes into the ack log, which the checks compare with the database.
 */
export class LoadGenerator {
  readonly acks: Ack[] = [];
  requests = 0;
  retries = 0;
  refused = 0;
  gaveUp = 0;
  private running = true;

  constructor(
    private readonly bases: string[],
    private readonly clearingKey: string,
    private readonly actors: { traders: Actor[]; buyers: Actor[] },
    private readonly series: { cash: string; physical: string },
    private readonly rand: () => number,
  ) {}

  stop(): void {
    this.running = false;
  }

  async run(workers: number): Promise<void> {
    await Promise.all(Array.from({ length: workers }, () => this.loop()));
  }

  private pick<T>(xs: T[]): T {
    return xs[Math.floor(this.rand() * xs.length)];
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const r = this.rand();
      if (r < 0.55) await this.order();
      else if (r < 0.7) await this.deposit();
      else if (r < 0.8) await this.withdrawal();
      else await this.job();
    }
  }

  private async order(): Promise<void> {
    const m = this.pick(this.actors.traders);
    const key = `ord-${randomUUID()}`;
    const body = {
      series: this.series.cash,
      side: this.rand() < 0.5 ? 'BUY' : 'SELL',
      price: formatFen(BigInt(390 + Math.floor(this.rand() * 21))),
      quantity: 1 + Math.floor(this.rand() * 3),
      timeInForce: this.rand() < 0.5 ? 'GTC' : 'IOC',
      clientOrderId: key,
    };
    const res = await this.send('POST', '/v1/orders', body, m.key, key);
    if (res) this.acks.push({ kind: 'order', key, id: res.id as string, memberId: m.id });
  }

  private async deposit(): Promise<void> {
    const m = this.pick([...this.actors.traders, ...this.actors.buyers]);
    const key = `D${randomUUID().replace(/-/g, '').slice(0, 30)}`;
    const res = await this.send(
      'POST',
      `/v1/members/${m.id}/deposits`,
      { amount: '10.00', currency: 'CNY', reference: key },
      this.clearingKey,
      key,
    );
    if (res) this.acks.push({ kind: 'deposit', key, id: res.id as string, memberId: m.id });
  }

  private async withdrawal(): Promise<void> {
    const m = this.pick(this.actors.traders);
    const key = `wd-${randomUUID()}`;
    const res = await this.send('POST', `/v1/members/${m.id}/withdrawals`, { amount: '1.00', currency: 'CNY' }, m.key, key);
    if (!res) return;
    const approved = await this.send('POST', `/v1/withdrawals/${res.id as string}/approve`, {}, this.clearingKey, `ap-${key}`);
    if (approved) this.acks.push({ kind: 'withdrawal', key, id: res.id as string, memberId: m.id });
  }

  private async job(): Promise<void> {
    const m = this.pick(this.actors.buyers);
    const key = `job-${randomUUID()}`;
    const res = await this.send(
      'POST',
      '/v1/delivery/jobs',
      {
        series: this.series.physical,
        modelClass: 'llm-70b-instruct',
        messages: [{ role: 'user', content: `load ${key}` }],
        maxTokens: 10 + Math.floor(this.rand() * 40),
      },
      m.key,
      key,
    );
    if (res) this.acks.push({ kind: 'job', key, id: res.id as string, memberId: m.id });
  }

  /** Up to 8 tries with the same key: network errors and 5xx/503 are retried, 4xx are final. */
  private async send(method: string, path: string, body: unknown, key: string, idem: string): Promise<Record<string, unknown> | undefined> {
    for (let attempt = 0; attempt < 8 && this.running; attempt++) {
      if (attempt > 0) {
        this.retries++;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
      this.requests++;
      try {
        const res = await fetch(`${this.pick(this.bases)}${path}`, {
          method,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': idem },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.text();
        if (res.status < 300) return JSON.parse(text) as Record<string, unknown>;
        const code = res.status >= 400 ? ((JSON.parse(text || '{}') as { code?: string }).code ?? '') : '';
        if (res.status < 500 && code !== 'IDEMPOTENCY_IN_PROGRESS') {
          this.refused++;
          return undefined;
        }
        // 409 IDEMPOTENCY_IN_PROGRESS and 5xx/503: the first attempt may still land; ask again.
      } catch {
        // connection refused/reset while a process is down: retry with the same key
      }
    }
    this.gaveUp++;
    return undefined;
  }
}
