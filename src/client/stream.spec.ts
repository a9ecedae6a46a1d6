import { afterEach, describe, expect, it, vi } from 'vitest';
import { applyBookMessage, TokenClearStream, type StreamMessage } from './stream.js';

/** A WebSocket stand-in: records what the client sends, lets the test play the server. */
class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: unknown[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000) {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  push(m: object) {
    this.onmessage?.({ data: JSON.stringify(m) });
  }
}

const msg = (seq: number, type: StreamMessage['type'], data: unknown = {}): StreamMessage => ({
  channel: 'book',
  series: 'S1',
  seq,
  type,
  data,
});

describe('TokenClearStream', () => {
  afterEach(() => {
    FakeSocket.all = [];
    vi.useRealTimers();
  });

  it('authenticates first, subscribes, hands on messages in seq order, and resubscribes on a gap', () => {
    const stream = new TokenClearStream({ url: 'http://api:3000', key: 'tck_key', WebSocket: FakeSocket });
    const got: StreamMessage[] = [];
    stream.subscribe('book', 'S1', (m) => got.push(m));
    const ws = FakeSocket.all[0];
    expect(ws.url).toBe('ws://api:3000/v1/stream');
    ws.open();
    expect(ws.sent).toEqual([
      { op: 'auth', key: 'tck_key' },
      { op: 'subscribe', channel: 'book', series: 'S1' },
    ]);
    ws.push(msg(1, 'snapshot'));
    ws.push(msg(2, 'delta'));
    ws.push(msg(4, 'delta')); // 3 is missing
    ws.push(msg(5, 'delta')); // dropped until the fresh snapshot
    expect(stream.gaps).toBe(1);
    expect(ws.sent.at(-1)).toEqual({ op: 'subscribe', channel: 'book', series: 'S1' });
    ws.push(msg(1, 'snapshot'));
    ws.push(msg(2, 'delta'));
    expect(got.map((m) => [m.seq, m.type])).toEqual([
      [1, 'snapshot'],
      [2, 'delta'],
      [1, 'snapshot'],
      [2, 'delta'],
    ]);
    stream.close();
  });

  it('reconnects with backoff after a drop and subscribes everything again; a refused key (1008) is final', () => {
    vi.useFakeTimers();
    const stream = new TokenClearStream({ url: 'ws://api/v1/stream', WebSocket: FakeSocket, minBackoffMs: 100 });
    stream.subscribe('trades', undefined, () => undefined);
    FakeSocket.all[0].open();
    FakeSocket.all[0].close(1013);
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(130);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.all[1].open();
    expect(FakeSocket.all[1].sent).toEqual([{ op: 'subscribe', channel: 'trades' }]);
    FakeSocket.all[1].close(1008);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(2);
    stream.close();
  });

  it('keeps a book from the snapshot and absolute level totals', () => {
    let book = applyBookMessage(undefined, msg(1, 'snapshot', { bids: [{ price: '10.00', quantity: 2, orders: 1 }], asks: [] }));
    book = applyBookMessage(
      book,
      msg(2, 'delta', {
        levels: [
          { side: 'BUY', price: '10.00', quantity: 0 },
          { side: 'BUY', price: '9.50', quantity: 3 },
          { side: 'SELL', price: '11.00', quantity: 1 },
          { side: 'BUY', price: '10.50', quantity: 1 },
        ],
      }),
    );
    expect(book).toEqual({
      bids: [
        { price: '10.50', quantity: 1 },
        { price: '9.50', quantity: 3 },
      ],
      asks: [{ price: '11.00', quantity: 1 }],
    });
  });
});
