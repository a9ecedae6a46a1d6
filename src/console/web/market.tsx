import { createRoot } from 'react-dom/client';
import { call, cny, publicClient } from './api';
import { ErrorBox, PriceChart, Table, useLoad } from './ui';

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
  }[];
  capacity: {
    modelClass: string;
    onlineNodes: number;
    tokensPerSecond: number;
    committedTokensPerSecond: number;
    availableTokensPerSecond: number;
  }[];
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
        <section>
          <h2>Series</h2>
          <Table
            rows={data?.series}
            empty="no series listed"
            columns={[
              { title: 'series', value: (s) => <strong data-testid={`series-${s.code}`}>{s.code}</strong> },
              { title: 'model class', value: (s) => s.modelClass },
              { title: 'type', value: (s) => s.settlementType },
              { title: 'status', value: (s) => s.status },
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
