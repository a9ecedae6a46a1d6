import { call, client, cny } from '../api';
import { More, usePaged } from '../paged';
import { RunsTable } from '../runs-table';
import type { Run } from '../types';
import { ErrorBox, Table, useLoad } from '../ui';

/** Clearing staff's start page: the day at a glance, reloaded when the stream reports trades, settlement or margin calls. */
const LIVE = [{ channel: 'trades' }, { channel: 'series' }, { channel: 'margin-calls' }, { channel: 'obligations' }] as const;

export function Overview() {
  // Without a business date: the runs created in the last 24 hours.
  const runs = usePaged<Run>('/v1/settlement/runs', { live: [...LIVE] });
  const { data, error } = useLoad(
    () =>
      call<{
        businessDate: string;
        trialBalance: { total: string; balanced: boolean };
        marginCalls: { open: number; overdue: number; amount: string };
        breaksByAge: { bucket: string; count: number }[];
        queues: { queue: string; waiting?: number; active?: number; delayed?: number; failed?: number }[];
      }>(client.GET('/v1/console/overview')),
    [],
    { channels: [...LIVE] },
  );
  return (
    <>
      <ErrorBox error={error ?? runs.error} />
      {data && (
        <>
          <div className="cards">
            <div className="card">
              <div>Business date</div>
              <div className="value">{data.businessDate}</div>
            </div>
            <div className="card">
              <div>Trial balance</div>
              <div className={`value ${data.trialBalance.balanced ? 'good' : 'bad'}`} data-testid="trial-balance">
                {cny(data.trialBalance.total)}
              </div>
            </div>
            <div className="card">
              <div>Open margin calls</div>
              <div className="value">{data.marginCalls.open}</div>
              <div className={data.marginCalls.overdue ? 'bad' : undefined}>
                {data.marginCalls.overdue} overdue · CNY {cny(data.marginCalls.amount)}
              </div>
            </div>
            <div className="card">
              <div>Open breaks by age</div>
              {data.breaksByAge.length === 0 ? (
                <div className="value good">0</div>
              ) : (
                data.breaksByAge.map((b) => (
                  <div key={b.bucket}>
                    {b.bucket}: {b.count}
                  </div>
                ))
              )}
            </div>
          </div>
          <section>
            <h2>Settlement runs (last 24 h)</h2>
            <RunsTable runs={runs.items} />
            <More list={runs} what="runs" />
          </section>
          <section>
            <h2>Queues</h2>
            <Table
              rows={data.queues}
              columns={[
                { title: 'queue', value: (q) => q.queue },
                { title: 'waiting', value: (q) => q.waiting ?? '—', num: true },
                { title: 'active', value: (q) => q.active ?? '—', num: true },
                { title: 'delayed', value: (q) => q.delayed ?? '—', num: true },
                { title: 'failed', value: (q) => q.failed ?? '—', num: true },
              ]}
            />
          </section>
        </>
      )}
    </>
  );
}
