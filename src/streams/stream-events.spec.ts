import { describe, expect, it } from 'vitest';
import type { Principal } from '../platform/http/request-context.js';
import { canSee, decodeEvents, parseClientMessage, StreamError, type StreamEvent } from './stream-events.js';
import { StreamHub, type Subscriber } from './stream-hub.js';

const codeOf = (raw: string) => {
  try {
    parseClientMessage(raw);
    return 'ok';
  } catch (err) {
    return err instanceof StreamError ? err.code : 'crash';
  }
};

const principal = (memberId: string, role: Principal['role'] = 'trader'): Principal => ({
  memberId,
  role,
  memberKind: 'TRADER',
  keyId: 'k',
});

describe('parseClientMessage', () => {
  it('accepts the three ops', () => {
    expect(parseClientMessage('{"op":"subscribe","channel":"book","series":"P1-S1"}')).toEqual({
      op: 'subscribe',
      channel: 'book',
      series: 'P1-S1',
    });
    expect(parseClientMessage('{"op":"unsubscribe","channel":"trades"}')).toEqual({ op: 'unsubscribe', channel: 'trades' });
    expect(parseClientMessage(`{"op":"auth","key":"tck_${'a'.repeat(43)}"}`)).toEqual({ op: 'auth', key: `tck_${'a'.repeat(43)}` });
  });

  it.each([
    ['{', 'BAD_JSON'],
    ['null', 'INVALID_MESSAGE'],
    ['[]', 'INVALID_MESSAGE'],
    ['"subscribe"', 'INVALID_MESSAGE'],
    ['{"channel":"book"}', 'INVALID_MESSAGE'],
    ['{"op":"publish","channel":"book"}', 'UNKNOWN_OP'],
    ['{"op":"subscribe"}', 'INVALID_MESSAGE'],
    ['{"op":"subscribe","channel":"__proto__"}', 'UNKNOWN_CHANNEL'],
    ['{"op":"subscribe","channel":"book"}', 'SERIES_REQUIRED'],
    ['{"op":"subscribe","channel":"book","series":7}', 'INVALID_MESSAGE'],
    ['{"op":"subscribe","channel":"book","series":"a b"}', 'INVALID_MESSAGE'],
    ['{"op":"subscribe","channel":"margin-calls","series":"P1-S1"}', 'SERIES_NOT_APPLICABLE'],
    ['{"op":"auth"}', 'UNAUTHENTICATED'],
    ['{"op":"auth","key":"short"}', 'UNAUTHENTICATED'],
  ])('%s → %s', (raw, code) => {
    expect(codeOf(raw)).toBe(code);
  });
});

describe('canSee', () => {
  const order = { channel: 'orders', series: 'S', memberIds: ['m1'], data: {} } as unknown as StreamEvent;
  const book: StreamEvent = { channel: 'book', series: 'S', data: { levels: [] } };
  it('public events are for everyone, private ones for their members and clearing', () => {
    expect(canSee(undefined, book)).toBe(true);
    expect(canSee(undefined, order)).toBe(false);
    expect(canSee(principal('m1'), order)).toBe(true);
    expect(canSee(principal('m2'), order)).toBe(false);
    expect(canSee(principal('c', 'clearing'), order)).toBe(true);
  });
});

describe('decodeEvents', () => {
  it('keeps well-formed events and ignores the rest', () => {
    const ok = { channel: 'book', series: 'S', data: { levels: [] } };
    expect(decodeEvents(JSON.stringify([ok, { channel: 'nope' }, { channel: 'orders', data: {} }, null]))).toEqual([ok]);
    expect(decodeEvents('not json')).toEqual([]);
    expect(decodeEvents('{"channel":"book"}')).toEqual([]);
  });
});

describe('StreamHub', () => {
  it('delivers each event to the matching subscribers of its channel, data serialised once', () => {
    const hub = new StreamHub();
    const got: string[] = [];
    const sub = (name: string, channel: 'book' | 'trades', series: string): Subscriber => ({
      channel,
      matches: (e) => 'series' in e && e.series === series,
      push: (_e, json) => got.push(`${name}:${json}`),
    });
    const a = sub('a', 'book', 'S1');
    hub.add(a);
    hub.add(sub('b', 'book', 'S2'));
    hub.add(sub('c', 'trades', 'S1'));
    hub.deliver([{ channel: 'book', series: 'S1', data: { levels: [] } }]);
    hub.remove(a);
    hub.deliver([{ channel: 'book', series: 'S1', data: { levels: [] } }]);
    expect(got).toEqual(['a:{"levels":[]}']);
    expect(hub.size).toBe(2);
  });
});
