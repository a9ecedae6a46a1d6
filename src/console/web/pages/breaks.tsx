import { useState } from 'react';
import { call, client } from '../api';
import { More, usePaged } from '../paged';
import type { Break, Me } from '../types';
import { ErrorBox, Table, useAction } from '../ui';

export function Breaks({ me }: { me: Me }) {
  const [filter, setFilter] = useState({ status: 'OPEN', type: '', memberId: '', minAgeHours: '' });
  const qs = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== '') as [string, string][]);
  const breaks = usePaged<Break>(`/v1/reconciliation/breaks?${qs}`);
  const { error, reload } = breaks;
  const [selected, setSelected] = useState<Break>();
  const [comment, setComment] = useState('');
  const [adj, setAdj] = useState({ debitAccount: '', creditAccount: '', amount: '' });
  const { act, error: actionError } = useAction(reload);
  return (
    <>
      <section>
        <h2>Breaks</h2>
        <form className="inline" onSubmit={(e) => e.preventDefault()}>
          {(['status', 'type', 'memberId', 'minAgeHours'] as const).map((k) => (
            <label key={k}>
              {k}
              <input value={filter[k]} onChange={(e) => setFilter({ ...filter, [k]: e.target.value })} />
            </label>
          ))}
          <button type="button" onClick={() => act(() => call(client.POST('/v1/reconciliation/runs')))}>
            Run reconciliation
          </button>
        </form>
        <ErrorBox error={error} />
        <Table
          rows={breaks.items}
          empty="no breaks"
          columns={[
            { title: 'type', value: (b) => b.type },
            { title: 'age', value: (b) => b.age, num: true },
            { title: 'expected', value: (b) => b.expected, num: true },
            { title: 'actual', value: (b) => b.actual, num: true },
            { title: 'difference', value: (b) => b.difference, num: true },
            { title: 'status', value: (b) => b.status },
            {
              title: '',
              value: (b) => (
                <button className="secondary" onClick={() => setSelected(b)} aria-label={`open break ${b.key}`}>
                  Open
                </button>
              ),
            },
          ]}
        />
        <More list={breaks} what="breaks" />
      </section>
      {selected && (
        <section aria-label="break detail">
          <h2>
            {selected.type} — {selected.key}
          </h2>
          <p>
            expected <strong>{selected.expected}</strong>, actual <strong>{selected.actual}</strong>, difference{' '}
            <strong>{selected.difference}</strong>; member {selected.memberId ?? '—'}
          </p>
          <pre>{JSON.stringify(selected.references, null, 2)}</pre>
          <form
            className="inline"
            onSubmit={(e) => (
              e.preventDefault(),
              act(() =>
                call(client.POST('/v1/reconciliation/breaks/{id}/resolve', { params: { path: { id: selected.id } }, body: { comment } })),
              ).then(() => setSelected(undefined))
            )}
          >
            <label>
              comment
              <input name="comment" value={comment} onChange={(e) => setComment(e.target.value)} />
            </label>
            <button type="submit">Resolve</button>
          </form>
          <h2>Propose an adjustment for this break</h2>
          <form
            className="inline"
            onSubmit={(e) => (
              e.preventDefault(),
              act(() =>
                call(
                  client.POST('/v1/adjustments', {
                    body: { ...adj, currency: 'CNY', reason: `break ${selected.key}`, breakId: selected.id } as never,
                  }),
                ),
              )
            )}
          >
            {(['debitAccount', 'creditAccount', 'amount'] as const).map((k) => (
              <label key={k}>
                {k}
                <input value={adj[k]} onChange={(e) => setAdj({ ...adj, [k]: e.target.value })} />
              </label>
            ))}
            <button type="submit">Propose (maker: {me.keyId.slice(0, 8)})</button>
          </form>
        </section>
      )}
      <ErrorBox error={actionError} />
    </>
  );
}
