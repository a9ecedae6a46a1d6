import { createRoot } from 'react-dom/client';
import type { IndexFixingView, TokenIndexView } from '../../indices/index-fixing.view';
import { call, cny, publicClient } from './api';
import { ErrorBox, PriceChart, Table, useLoad } from './ui';

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Each index with the effective fixing of every date it has (a correction replaces what it corrects). */
async function indexHistories(): Promise<{ index: TokenIndexView; history: IndexFixingView[] }[]> {
  const publicGet = async <T,>(path: string): Promise<T> => (await fetch(path)).json() as Promise<T>;
  const indices = await publicGet<Page<TokenIndexView>>('/v1/indices');
  return Promise.all(
    indices.items.map(async (index) => {
      const fixings = await publicGet<Page<IndexFixingView>>(`/v1/indices/${encodeURIComponent(index.code)}/fixings?limit=500`);
      return { index, history: fixings.items.filter((f) => f.effective) };
    }),
  );
}

function Indices() {
  // Fixings are published at the cut-off, with the day's settlement prices: reload on series news.
  const { data, error } = useLoad(indexHistories, [], { channels: [{ channel: 'series' }], withKey: false });
  return (
    <section>
      <h2>TokenClear token indices</h2>
      <p>
        Fixed each business day at the cut-off from TokenClear&apos;s own trades and metered deliveries —{' '}
        <a href="/v1/indices/methodology">methodology</a>.
      </p>
      <ErrorBox error={error} />
      <Table
        rows={data}
        empty="no index fixed yet"
        columns={[
          { title: 'index', value: (r) => <strong data-testid={`index-${r.index.code}`}>{r.index.code}</strong> },
          { title: 'model class', value: (r) => r.index.modelClass },
          { title: 'date', value: (r) => r.index.latest?.businessDate ?? '—' },
          { title: 'fixing', value: (r) => cny(r.index.latest?.price), num: true },
          { title: 'method', value: (r) => r.index.latest?.method ?? '—' },
          {
            title: 'history',
            value: (r) => <PriceChart points={r.history} label={`${r.index.code} history`} empty="no fixings yet" />,
          },
        ]}
      />
    </section>
  );
}

interface Market {
  asOf: string;
  series: {
    code: string;
    status: string;
    modelClass: string;
    settlementType: string;
    last: string | null;
    bestBid: string | null;
    bestAsk: string | null;
    volume: number;
    openInterest: number;
    lastSettlementPrice: string | null;
    settlementPrices: { businessDate: string; price: string }[];
    circuitBreakerEvents: { kind: string; at: string; price: string | null; anchor: string | null }[];
  }[];
  capacity: {
    modelClass: string;
    onlineNodes: number;
    tokensPerSecond: number;
    committedTokensPerSecond: number;
    availableTokensPerSecond: number;
  }[];
}

/** The status, with the circuit breaker's last event (a pause shows its breach and anchor prices). */
function SeriesStatus({ status, events }: { status: string; events: Market['series'][number]['circuitBreakerEvents'] }) {
  const last = events?.[0];
  if (!last) return <>{status}</>;
  const at = new Date(last.at).toLocaleTimeString('en-GB');
  return (
    <span title={events.map((e) => `${e.kind} ${e.at}${e.price ? ` at ${e.price}` : ''}`).join('\n')}>
      {status}
      <small> · {last.kind === 'PAUSED' ? `paused ${at} (${cny(last.price)} vs anchor ${cny(last.anchor)})` : `resumed ${at}`}</small>
    </span>
  );
}

/**
 * The public market board: no key, read from the public, cacheable endpoint only, and read again
 * when /v1/stream reports a trade or a series change (revalidating past the HTTP cache).
 */
function Board() {
  const { data, error } = useLoad(() => call<Market>(publicClient.GET('/v1/public/market', { cache: 'no-cache' })), [], {
    channels: [{ channel: 'trades' }, { channel: 'series' }],
    withKey: false,
  });
  return (
    <>
      <header>
        <h1>TokenClear market board</h1>
        <span>{data ? `as of ${data.asOf}` : ''} · prices in CNY per 1M tokens</span>
      </header>
      <main>
        <ErrorBox error={error} />
        <Indices />
        <section>
          <h2>Series</h2>
          <Table
            rows={data?.series}
            empty="no series listed"
            columns={[
              { title: 'series', value: (s) => <strong data-testid={`series-${s.code}`}>{s.code}</strong> },
              { title: 'model class', value: (s) => s.modelClass },
              { title: 'type', value: (s) => s.settlementType },
              { title: 'status', value: (s) => <SeriesStatus status={s.status} events={s.circuitBreakerEvents} /> },
              { title: 'last', value: (s) => cny(s.last), num: true },
              { title: 'bid', value: (s) => cny(s.bestBid), num: true },
              { title: 'ask', value: (s) => cny(s.bestAsk), num: true },
              { title: 'volume', value: (s) => s.volume, num: true },
              { title: 'open interest', value: (s) => s.openInterest, num: true },
              { title: 'settlement', value: (s) => cny(s.lastSettlementPrice), num: true },
              { title: 'history', value: (s) => <PriceChart points={s.settlementPrices} /> },
            ]}
          />
        </section>
        <section>
          <h2>Registered capacity by model class</h2>
          <Table
            rows={data?.capacity}
            empty="no capacity online"
            columns={[
              { title: 'model class', value: (c) => c.modelClass },
              { title: 'online nodes', value: (c) => c.onlineNodes, num: true },
              { title: 'tokens/s', value: (c) => c.tokensPerSecond.toLocaleString('en'), num: true },
              { title: 'committed', value: (c) => c.committedTokensPerSecond.toLocaleString('en'), num: true },
              { title: 'available', value: (c) => c.availableTokensPerSecond.toLocaleString('en'), num: true },
            ]}
          />
        </section>
      </main>
    </>
  );
}

createRoot(document.getElementById('root')!).render(<Board />);
