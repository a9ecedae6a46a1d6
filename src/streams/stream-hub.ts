import type { Channel, StreamEvent } from './stream-events.js';

/** What the hub needs from a subscription: a filter and a sink. */
export interface Subscriber {
  readonly channel: Channel;
  matches(event: StreamEvent): boolean;
  /** `dataJson` is the event's data serialised once for every subscriber. */
  push(event: StreamEvent, dataJson: string): void;
}

/**
 * The subscriptions of this API copy, indexed by channel so an event only visits the
 * subscriptions that could want it. Delivery is synchronous: one event reaches every
 * subscriber before the next is looked at, which keeps per-subscriber order = arrival order.
 */
export class StreamHub {
  private readonly byChannel = new Map<Channel, Set<Subscriber>>();

  /** `onError`: a subscriber that threw; the others still get the event. */
  constructor(private readonly onError: (sub: Subscriber, err: unknown) => void = () => undefined) {}

  add(sub: Subscriber): void {
    let set = this.byChannel.get(sub.channel);
    if (!set) this.byChannel.set(sub.channel, (set = new Set()));
    set.add(sub);
  }

  remove(sub: Subscriber): void {
    this.byChannel.get(sub.channel)?.delete(sub);
  }

  deliver(events: readonly StreamEvent[]): void {
    for (const event of events) {
      const subs = this.byChannel.get(event.channel);
      if (!subs || subs.size === 0) continue;
      const dataJson = JSON.stringify(event.data);
      // A push may close a slow connection, which removes its subscriptions; a Set skips
      // entries deleted during iteration, so no copy is needed.
      for (const sub of subs) {
        try {
          if (sub.matches(event)) sub.push(event, dataJson);
        } catch (err) {
          this.onError(sub, err);
        }
      }
    }
  }

  /** Channels with at least one subscription on this copy. */
  channels(): Channel[] {
    return [...this.byChannel].filter(([, set]) => set.size > 0).map(([channel]) => channel);
  }

  get size(): number {
    let n = 0;
    for (const set of this.byChannel.values()) n += set.size;
    return n;
  }
}
