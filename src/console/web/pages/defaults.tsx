import { useState } from 'react';
import { api, cny } from '../api';
import { More, usePaged } from '../paged';
import { ErrorBox, Table, useAction, useLoad } from '../ui';

interface DefaultRow {
  id: string;
  memberId: string;
  reason: string;
  status: string;
  origin: string;
  proposedBy: string | null;
  createdAt: string;
  auctionEndsAt: string | null;
  lossFen: string | null;
  uncoveredFen: string | null;
}

interface DefaultReport extends DefaultRow {
  coveredFen: string | null;
  lots: {
    id: string;
    series: string;
    side: string;
    quantity: number;
    referencePrice: string;
    soldQuantity: number;
    tornUpQuantity: number;
    lossFen: string;
  }[];
  bids: { id: string; series: string; bidderId: string; price: string; quantity: number; awardedQuantity: number }[];
  awards: { kind: string; series: string; memberId: string; quantity: number; price: string }[];
  waterfall: { seq: number; layer: string; memberId: string | null; amountFen: string; amount: string }[];
}

// Fen as a decimal string by integer arithmetic (never through a float).
const fenToCny = (fen: string | null) => {
  if (fen === null) return '—';
  const v = BigInt(fen);
  const a = v < 0n ? -v : v;
  return cny(`${v < 0n ? '-' : ''}${a / 100n}.${(a % 100n).toString().padStart(2, '0')}`);
};

/** One default: its lots, sealed bids, close-out and every waterfall step. */
function DefaultDetail({ id }: { id: string }) {
  const { data, error } = useLoad(() => api<DefaultReport>('GET', `/v1/defaults/${id}`), [id], { channels: [{ channel: 'margin-calls' }] });
  if (!data) return <ErrorBox error={error} />;
  return (
    <section>
      <h2>
        Default <code>{id.slice(0, 8)}</code> of member <code>{data.memberId.slice(0, 8)}</code>: {data.status}
      </h2>
      <p>
        {data.reason}
        {data.auctionEndsAt && ` — auction ends ${data.auctionEndsAt}`}
        {data.lossFen !== null && ` — loss ${fenToCny(data.lossFen)} CNY, uncovered ${fenToCny(data.uncoveredFen)} CNY`}
      </p>
      <h3>Lots (at the last settlement price)</h3>
      <Table
        rows={data.lots}
        empty="no positions to close out"
        columns={[
          { title: 'series', value: (l) => l.series },
          { title: 'side', value: (l) => l.side },
          { title: 'contracts', value: (l) => l.quantity, num: true },
          { title: 'reference', value: (l) => cny(l.referencePrice), num: true },
          { title: 'sold', value: (l) => l.soldQuantity, num: true },
          { title: 'torn up', value: (l) => l.tornUpQuantity, num: true },
          { title: 'loss (fen)', value: (l) => l.lossFen, num: true },
        ]}
      />
      <h3>Bids</h3>
      <Table
        rows={data.bids}
        empty="no bids"
        columns={[
          { title: 'series', value: (b) => b.series },
          { title: 'bidder', value: (b) => <code>{b.bidderId.slice(0, 8)}</code> },
          { title: 'price', value: (b) => cny(b.price), num: true },
          { title: 'contracts', value: (b) => b.quantity, num: true },
          { title: 'awarded', value: (b) => b.awardedQuantity, num: true },
        ]}
      />
      <h3>Close-out</h3>
      <Table
        rows={data.awards}
        empty="not closed out yet"
        columns={[
          { title: 'kind', value: (a) => a.kind },
          { title: 'series', value: (a) => a.series },
          { title: 'member', value: (a) => <code>{a.memberId.slice(0, 8)}</code> },
          { title: 'contracts', value: (a) => a.quantity, num: true },
          { title: 'price', value: (a) => cny(a.price), num: true },
        ]}
      />
      <h3>Waterfall</h3>
      <Table
        rows={data.waterfall}
        empty="no loss paid (yet)"
        columns={[
          { title: '#', value: (s) => s.seq, num: true },
          { title: 'layer', value: (s) => s.layer },
          { title: 'member', value: (s) => (s.memberId ? <code>{s.memberId.slice(0, 8)}</code> : 'ccp:capital') },
          { title: 'fen', value: (s) => s.amountFen, num: true },
          { title: 'CNY', value: (s) => cny(s.amount), num: true },
        ]}
      />
    </section>
  );
}

/** Member defaults: propose (maker), approve (a different person), follow the auction and the waterfall. */
export function Defaults() {
  const list = usePaged<DefaultRow>('/v1/defaults', { live: [{ channel: 'margin-calls' }] });
  const { act, error: actionError } = useAction(list.reload);
  const [form, setForm] = useState({ memberId: '', reason: '' });
  const [open, setOpen] = useState<string>();
  return (
    <>
      <section>
        <h2>Propose a default</h2>
        <form className="inline" onSubmit={(e) => (e.preventDefault(), act(() => api('POST', '/v1/defaults', form)))}>
          {(['memberId', 'reason'] as const).map((k) => (
            <label key={k}>
              {k}
              <input name={k} value={form[k]} onChange={(e) => setForm({ ...form, [k]: e.target.value })} />
            </label>
          ))}
          <button type="submit">Propose</button>
        </form>
        <ErrorBox error={actionError} />
      </section>
      <section>
        <h2>Defaults (four eyes: another person approves)</h2>
        <ErrorBox error={list.error} />
        <Table
          rows={list.items}
          empty="no defaults"
          columns={[
            { title: 'member', value: (d) => <code>{d.memberId.slice(0, 8)}</code> },
            { title: 'status', value: (d) => <span className={d.status === 'COMPLETED' ? 'good' : 'bad'}>{d.status}</span> },
            { title: 'reason', value: (d) => d.reason },
            { title: 'auction ends', value: (d) => d.auctionEndsAt ?? '—' },
            { title: 'loss (CNY)', value: (d) => fenToCny(d.lossFen), num: true },
            {
              title: '',
              value: (d) => (
                <>
                  {d.status === 'PROPOSED' && (
                    <button
                      onClick={() => act(() => api('POST', `/v1/defaults/${d.id}/approve`, {}))}
                      aria-label={`approve default ${d.id}`}
                    >
                      Approve
                    </button>
                  )}{' '}
                  <button className="secondary" onClick={() => setOpen(d.id)}>
                    Details
                  </button>
                </>
              ),
            },
          ]}
        />
        <More list={list} what="defaults" />
      </section>
      {open && <DefaultDetail id={open} />}
    </>
  );
}
