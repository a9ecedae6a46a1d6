import { useState } from 'react';
import { call, client } from '../api';
import { More, usePaged } from '../paged';
import { RunsTable } from '../runs-table';
import type { Run } from '../types';
import { ErrorBox, useAction } from '../ui';

export function Runs() {
  const [date, setDate] = useState('');
  const runs = usePaged<Run>(`/v1/settlement/runs${date ? `?businessDate=${encodeURIComponent(date)}` : ''}`, {
    // A run publishes its series' settlement prices and status as it completes.
    live: [{ channel: 'series' }, { channel: 'margin-calls' }],
  });
  const { error, reload } = runs;
  const [form, setForm] = useState({ type: 'DAILY', series: '', businessDate: '' });
  const [confirming, setConfirming] = useState(false);
  const { act, error: actionError } = useAction(reload);
  const start = async () => {
    if (
      await act(() =>
        call(
          client.POST('/v1/settlement/runs', {
            body: {
              type: form.type as 'DAILY',
              series: form.series || undefined,
              businessDate: form.businessDate || undefined,
            },
          }),
        ),
      )
    )
      setConfirming(false);
  };
  return (
    <>
      <section>
        <h2>Start a settlement run</h2>
        <form className="inline" onSubmit={(e) => (e.preventDefault(), setConfirming(true))}>
          <label>
            type
            <select value={form.type} onChange={(e) => setForm({ ...form, type: e.target.value })} name="type">
              <option>DAILY</option>
              <option>EXPIRY</option>
              <option>DELIVERY_CLOSE</option>
            </select>
          </label>
          <label>
            series (empty: every trading series)
            <input name="series" value={form.series} onChange={(e) => setForm({ ...form, series: e.target.value })} />
          </label>
          <label>
            business date
            <input
              name="businessDate"
              placeholder="YYYY-MM-DD"
              value={form.businessDate}
              onChange={(e) => setForm({ ...form, businessDate: e.target.value })}
            />
          </label>
          <button type="submit">Start…</button>
        </form>
        {confirming && (
          <p role="dialog" aria-label="confirm run">
            Start a {form.type} run for {form.series || 'every trading series'}{' '}
            {form.businessDate ? `on ${form.businessDate}` : '(previous business date)'}? <button onClick={start}>Confirm</button>{' '}
            <button className="secondary" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </p>
        )}
        <ErrorBox error={actionError} />
      </section>
      <section>
        <h2>Runs</h2>
        <label>
          business date filter <input value={date} onChange={(e) => setDate(e.target.value)} placeholder="YYYY-MM-DD" />
        </label>
        <ErrorBox error={error} />
        <RunsTable runs={runs.items} />
        <More list={runs} what="runs" />
      </section>
    </>
  );
}
