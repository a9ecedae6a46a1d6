import { useState } from 'react';
import { api, cny } from '../api';
import { ErrorBox, PriceChart, Table, useLoad } from '../ui';

/** Every series with today's market data; one series' book, recent trades and settlement prices. */
export function Markets() {
  const { data, error } = useLoad(
    () =>
      api<{
        series: {
          code: string;
          status: string;
          settlementPrices: { businessDate: string; price: string }[];
          last: string | null;
          bestBid: string | null;
          bestAsk: string | null;
          volume: number;
          openInterest: number;
        }[];
      }>('GET', '/v1/public/market'),
    [],
    5_000,
  );
  const [code, setCode] = useState<string>();
  const book = useLoad(
    async () =>
      code
        ? Promise.all([
            api<{ bids: { price: string; quantity: number }[]; asks: { price: string; quantity: number }[] }>(
              'GET',
              `/v1/series/${encodeURIComponent(code)}/book`,
            ),
            // The twenty most recent: a glance at the tape, not the trade history.
            api<{ items: { price: string; quantity: number; createdAt: string }[] }>(
              'GET',
              `/v1/trades?series=${encodeURIComponent(code)}&limit=20`,
            ),
          ])
        : undefined,
    [code],
    3_000,
  );
  const selected = data?.series.find((s) => s.code === code);
  // Members at 80 % or more of a position limit (first page: the report is short by nature).
  const large = useLoad(
    () =>
      api<{
        items: {
          memberId: string;
          product: string;
          allMonths: { contracts: number; limit: number | null; usageBp: number | null };
          spotMonth: { series: string; contracts: number; limit: number; usageBp: number }[];
        }[];
      }>('GET', '/v1/reports/large-traders?limit=100'),
    [],
    15_000,
  );
  return (
    <>
      <ErrorBox error={error} />
      <section>
        <h2>Large traders (≥ 80 % of a position limit)</h2>
        <Table
          rows={large.data?.items}
          empty="no member near a limit"
          columns={[
            { title: 'member', value: (r) => <code>{r.memberId}</code> },
            { title: 'product', value: (r) => r.product },
            {
              title: 'all months',
              value: (r) =>
                r.allMonths.limit === null
                  ? '—'
                  : `${r.allMonths.contracts} / ${r.allMonths.limit} (${(r.allMonths.usageBp ?? 0) / 100} %)`,
            },
            { title: 'spot month', value: (r) => r.spotMonth.map((s) => `${s.series} ${s.contracts} / ${s.limit}`).join(', ') || '—' },
          ]}
        />
      </section>
      <section>
        <h2>Series</h2>
        <Table
          rows={data?.series}
          columns={[
            {
              title: 'series',
              value: (s) => (
                <a href="#/markets" onClick={() => setCode(s.code)}>
                  {s.code}
                </a>
              ),
            },
            { title: 'status', value: (s) => s.status },
            { title: 'last', value: (s) => cny(s.last), num: true },
            { title: 'bid', value: (s) => cny(s.bestBid), num: true },
            { title: 'ask', value: (s) => cny(s.bestAsk), num: true },
            { title: 'volume', value: (s) => s.volume, num: true },
            { title: 'open interest', value: (s) => s.openInterest, num: true },
          ]}
        />
      </section>
      {selected && book.data && (
        <section>
          <h2>{selected.code}</h2>
          <div className="cards">
            <div className="card">
              <h2>Bids</h2>
              <Table
                rows={book.data[0].bids}
                empty="no bids"
                columns={[
                  { title: 'price', value: (l) => cny(l.price), num: true },
                  { title: 'qty', value: (l) => l.quantity, num: true },
                ]}
              />
            </div>
            <div className="card">
              <h2>Asks</h2>
              <Table
                rows={book.data[0].asks}
                empty="no asks"
                columns={[
                  { title: 'price', value: (l) => cny(l.price), num: true },
                  { title: 'qty', value: (l) => l.quantity, num: true },
                ]}
              />
            </div>
            <div className="card">
              <h2>Recent trades</h2>
              <Table
                rows={book.data[1].items}
                empty="no trades"
                columns={[
                  { title: 'time', value: (t) => t.createdAt.slice(11, 19) },
                  { title: 'price', value: (t) => cny(t.price), num: true },
                  { title: 'qty', value: (t) => t.quantity, num: true },
                ]}
              />
            </div>
            <div className="card">
              <h2>Settlement prices</h2>
              <PriceChart points={selected.settlementPrices} />
            </div>
          </div>
        </section>
      )}
    </>
  );
}
