import { useState } from 'react';
import { applyBookMessage, type LiveBook } from '../../../client/stream';
import { api, call, client, cny } from '../api';
import { useStream } from '../live';
import { ErrorBox, PriceChart, Table, useLoad } from '../ui';

interface Trade {
  id: string;
  price: string;
  quantity: number;
  createdAt: string;
}

// The twenty most recent: a glance at the tape, not the trade history.
const TAPE = 20;

/** Every series with today's market data; one series' book, recent trades and settlement prices, live from /v1/stream. */
export function Markets() {
  const { data, error } = useLoad(
    () =>
      call<{
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
      }>(client.GET('/v1/public/market', { cache: 'no-cache' })),
    [],
    { channels: [{ channel: 'trades' }, { channel: 'series' }] },
  );
  const [code, setCode] = useState<string>();
  const [book, setBook] = useState<{ code: string; book: LiveBook }>();
  const [tape, setTape] = useState<{ code: string; trades: Trade[] }>();
  const channels = code
    ? [
        { channel: 'book' as const, series: code },
        { channel: 'trades' as const, series: code },
      ]
    : undefined;
  useStream(channels, (m) => {
    if (m.series !== code || code === undefined) return;
    if (m.channel === 'book') setBook((b) => ({ code, book: applyBookMessage(b?.code === code ? b.book : undefined, m) }));
    if (m.channel === 'trades')
      setTape((t) => ({
        code,
        trades:
          m.type === 'snapshot'
            ? (m.data as { items: Trade[] }).items.slice(0, TAPE)
            : [m.data as Trade, ...(t?.code === code ? t.trades : [])].slice(0, TAPE),
      }));
  });
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
  );
  const shownBook = book && book.code === code ? book.book : undefined;
  const shownTape = tape && tape.code === code ? tape.trades : undefined;
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
      {selected && shownBook && (
        <section>
          <h2>{selected.code}</h2>
          <div className="cards">
            <div className="card">
              <h2>Bids</h2>
              <Table
                rows={shownBook.bids}
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
                rows={shownBook.asks}
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
                rows={shownTape}
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
