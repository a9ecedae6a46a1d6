import { useState } from 'react';
import { call, client, cny } from '../api';
import { More, usePaged } from '../paged';
import type { Adjustment, Me } from '../types';
import { ErrorBox, Table, useAction } from '../ui';

export function Adjustments({ me }: { me: Me }) {
  const pending = usePaged<Adjustment>('/v1/adjustments?status=PENDING');
  const { error, reload } = pending;
  const { act, error: actionError } = useAction(reload);
  const [form, setForm] = useState({ debitAccount: '', creditAccount: '', amount: '', reason: '' });
  return (
    <>
      <section>
        <h2>Propose an adjustment</h2>
        {/* The document has no schema for the adjustment body yet: it goes as the form holds it. */}
        <form
          className="inline"
          onSubmit={(e) => (
            e.preventDefault(),
            act(() => call(client.POST('/v1/adjustments', { body: { ...form, currency: 'CNY' } as never })))
          )}
        >
          {(['debitAccount', 'creditAccount', 'amount', 'reason'] as const).map((k) => (
            <label key={k}>
              {k}
              <input name={k} value={form[k]} onChange={(e) => setForm({ ...form, [k]: e.target.value })} />
            </label>
          ))}
          <button type="submit">Propose</button>
        </form>
      </section>
      <section>
        <h2>Pending (four eyes: a different clearing user approves)</h2>
        <ErrorBox error={error} />
        <Table
          rows={pending.items}
          empty="nothing pending"
          columns={[
            { title: 'debit', value: (a) => a.debitAccount },
            { title: 'credit', value: (a) => a.creditAccount },
            { title: 'amount (CNY)', value: (a) => cny(a.amount), num: true },
            { title: 'reason', value: (a) => a.reason },
            {
              title: '',
              value: (a) =>
                a.proposedByKeyId === me.keyId ? (
                  <em>your proposal</em>
                ) : (
                  <>
                    <button
                      onClick={() =>
                        act(() =>
                          call(
                            client.POST('/v1/adjustments/{id}/approve', {
                              params: { path: { id: a.id } },
                              body: { payloadHash: a.payloadHash },
                            }),
                          ),
                        )
                      }
                      aria-label={`approve ${a.reason}`}
                    >
                      Approve
                    </button>{' '}
                    <button
                      className="secondary"
                      onClick={() =>
                        act(() =>
                          call(
                            client.POST('/v1/adjustments/{id}/reject', {
                              params: { path: { id: a.id } },
                              body: { comment: 'rejected in console' },
                            }),
                          ),
                        )
                      }
                    >
                      Reject
                    </button>
                  </>
                ),
            },
          ]}
        />
        <More list={pending} what="adjustments" />
        <ErrorBox error={actionError} />
      </section>
    </>
  );
}
