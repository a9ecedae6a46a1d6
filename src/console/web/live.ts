import { useEffect, useRef } from 'react';
import { TokenClearStream, type StreamChannel, type StreamMessage } from '../../client/stream';
import { session } from './api';

// Live pages: one /v1/stream connection per page load (src/client/stream.ts reconnects and
// resubscribes on its own); the console's pages follow it instead of polling.

export interface Live {
  channel: StreamChannel;
  series?: string;
}

let signedIn: TokenClearStream | undefined;
let anonymous: TokenClearStream | undefined;

/** The page's connection: with the session's key (private channels), or without one (the public board). */
export function liveStream(withKey: boolean): TokenClearStream {
  if (withKey) return (signedIn ??= new TokenClearStream({ url: location.origin, key: () => session.get() }));
  return (anonymous ??= new TokenClearStream({ url: location.origin }));
}

/** Calls `onMessage` with every message of `channels` while mounted (snapshots included). */
export function useStream(channels: Live[] | undefined, onMessage: (m: StreamMessage) => void, withKey = true): void {
  const handler = useRef(onMessage);
  handler.current = onMessage;
  const key = channels?.map((c) => `${c.channel}|${c.series ?? ''}`).join(',') ?? '';
  useEffect(() => {
    if (!channels || channels.length === 0) return;
    const stream = liveStream(withKey);
    const offs = channels.map((c) => stream.subscribe(c.channel, c.series, (m) => handler.current(m)));
    return () => offs.forEach((off) => off());
  }, [key, withKey]);
}

/**
 * Runs `reload` after stream traffic on `channels`, at most once per `ms`: a burst of trades is
 * one reload, and a snapshot (a reconnect, a resubscription after a gap) reloads too.
 */
export function useLiveReload(channels: Live[] | undefined, reload: () => unknown, withKey = true, ms = 250): void {
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const latest = useRef(reload);
  latest.current = reload;
  useEffect(() => () => clearTimeout(timer.current), []);
  useStream(
    channels,
    () => {
      if (timer.current !== undefined) return;
      timer.current = setTimeout(() => {
        timer.current = undefined;
        void latest.current();
      }, ms);
    },
    withKey,
  );
}
