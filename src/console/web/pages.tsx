import { useState, type ComponentType } from 'react';
import { api, cny, session } from './api';
import { Bar, ErrorBox, PriceChart, Table, useAction, useLoad } from './ui';
import type { SettlementRunView } from '../../settlement/settlement-run.view';

interface Me {
  memberId: string;
  role: string;
  keyId: string;
}
type Run = SettlementRunView;
interface Break {
  id: string;
  type: string;
  memberId: string | null;
  expected: string;
  actual: string;
  difference: string;
  references: Record<string, string>;
  status: string;
  age: string;
  key: string;
}
interface Adjustment {
  id: string;
  debitAccount: string;
  creditAccount: string;
  amount: string;
  reason: string;
  status: string;
  payloadHash: string;
  proposedByKeyId: string;
  breakId: string | null;
}

function Overview() {
  const { data, error } = useLoad(
    () =>
      api<{
        businessDate: string;
        trialBalance: { total: string; balanced: boolean };
        marginCalls: { open: number; overdue: number; amount: string };
        breaksByAge: { bucket: string; count: number }[];
        runs: Run[];
        queues: { queue: string; waiting?: number; active?: number; delayed?: number; failed?: number }[];
      }>('GET', '/v1/console/overview'),
    [],
    2_000,
  );
  return (
    <>
      <ErrorBox error={error} />
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
            <RunsTable runs={data.runs} />
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

const runSeries = (r: Run) => r.series ?? `${r.seriesCount} series`;

function RunsTable({ runs }: { runs: Run[] | undefined }) {
  return (
    <Table
      rows={runs}
      empty="no runs"
      columns={[
        { title: 'series', value: (r) => runSeries(r) },
        { title: 'type', value: (r) => r.type },
        { title: 'business date', value: (r) => r.businessDate },
        {
          title: 'status',
          value: (r) => (
            <span
              className={r.status === 'FAILED' ? 'bad' : r.status === 'COMPLETED' ? 'good' : undefined}
              data-testid={`run-status-${r.series ?? 'set'}`}
            >
              {r.status}
            </span>
          ),
        },
        {
          title: 'progress',
          value: (r) => (
            <Bar
              value={r.progress.processed}
              total={Math.max(r.progress.total, r.progress.processed, r.status === 'COMPLETED' ? 1 : 0) || 1}
              label={`run ${runSeries(r)}`}
            />
          ),
        },
        { title: 'price', value: (r) => cny(r.price), num: true },
        { title: 'transfers', value: (r) => r.transferCount, num: true },
        { title: 'moved (CNY)', value: (r) => cny(r.totalMoved), num: true },
        { title: 'checksum', value: (r) => (r.checksum ? `${r.checksum.slice(0, 12)}…` : '—') },
        {
          title: 'took',
          value: (r) =>
            r.startedAt && r.finishedAt ? `${((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000).toFixed(1)} s` : '—',
          num: true,
        },
      ]}
    />
  );
}

function Runs() {
  const [date, setDate] = useState('');
  const { data, error, reload } = useLoad(
    () => api<{ items: Run[] }>('GET', `/v1/settlement/runs${date ? `?businessDate=${date}` : ''}`),
    [date],
    1_500,
  );
  const [form, setForm] = useState({ type: 'DAILY', series: '', businessDate: '' });
  const [confirming, setConfirming] = useState(false);
  const { act, error: actionError } = useAction(reload);
  const start = async () => {
    if (
      await act(() =>
        api('POST', '/v1/settlement/runs', {
          type: form.type,
          series: form.series || undefined,
          businessDate: form.businessDate || undefined,
        }),
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
        <RunsTable runs={data?.items} />
      </section>
    </>
  );
}

function Breaks({ me }: { me: Me }) {
  const [filter, setFilter] = useState({ status: 'OPEN', type: '', memberId: '', minAgeHours: '' });
  const qs = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== '') as [string, string][]);
  const { data, error, reload } = useLoad(() => api<{ items: Break[] }>('GET', `/v1/reconciliation/breaks?${qs}`), [qs.toString()]);
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
          <button type="button" onClick={() => act(() => api('POST', '/v1/reconciliation/runs', {}))}>
            Run reconciliation
          </button>
        </form>
        <ErrorBox error={error} />
        <Table
          rows={data?.items}
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
              act(() => api('POST', `/v1/reconciliation/breaks/${selected.id}/resolve`, { comment })).then(() => setSelected(undefined))
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
              act(() => api('POST', '/v1/adjustments', { ...adj, currency: 'CNY', reason: `break ${selected.key}`, breakId: selected.id }))
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

function Adjustments({ me }: { me: Me }) {
  const { data, error, reload } = useLoad(() => api<{ items: Adjustment[] }>('GET', '/v1/adjustments?status=PENDING'), []);
  const { act, error: actionError } = useAction(reload);
  const [form, setForm] = useState({ debitAccount: '', creditAccount: '', amount: '', reason: '' });
  return (
    <>
      <section>
        <h2>Propose an adjustment</h2>
        <form
          className="inline"
          onSubmit={(e) => (e.preventDefault(), act(() => api('POST', '/v1/adjustments', { ...form, currency: 'CNY' })))}
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
          rows={data?.items}
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
                      onClick={() => act(() => api('POST', `/v1/adjustments/${a.id}/approve`, { payloadHash: a.payloadHash }))}
                      aria-label={`approve ${a.reason}`}
                    >
                      Approve
                    </button>{' '}
                    <button
                      className="secondary"
                      onClick={() => act(() => api('POST', `/v1/adjustments/${a.id}/reject`, { comment: 'rejected in console' }))}
                    >
                      Reject
                    </button>
                  </>
                ),
            },
          ]}
        />
        <ErrorBox error={actionError} />
      </section>
    </>
  );
}

function Members() {
  const { data: members, error } = useLoad(
    () => api<{ items: { id: string; name: string; kind: string; status: string }[] }>('GET', '/v1/members?limit=200'),
    [],
  );
  const [id, setId] = useState<string>();
  const [date, setDate] = useState('');
  const detail = useLoad(
    async () =>
      id
        ? Promise.all([
            api<Record<string, string>>('GET', `/v1/members/${id}/balances`),
            api<{ items: Record<string, unknown>[] }>('GET', '/v1/positions'),
            api<{ items: Record<string, unknown>[] }>('GET', '/v1/margin-calls'),
          ])
        : undefined,
    [id],
  );
  const download = async () => {
    const res = await fetch(`/v1/members/${id}/statements/${date}?format=csv`, { headers: { authorization: `Bearer ${session.get()}` } });
    if (!res.ok) return alert(((await res.json()) as { detail?: string }).detail ?? res.statusText);
    const url = URL.createObjectURL(await res.blob());
    Object.assign(document.createElement('a'), { href: url, download: `statement-${id}-${date}.csv` }).click();
  };
  return (
    <>
      <section>
        <h2>Members</h2>
        <ErrorBox error={error} />
        <Table
          rows={members?.items}
          columns={[
            {
              title: 'name',
              value: (m) => (
                <a href="#/members" onClick={() => setId(m.id)}>
                  {m.name}
                </a>
              ),
            },
            { title: 'kind', value: (m) => m.kind },
            { title: 'status', value: (m) => m.status },
            { title: 'id', value: (m) => <code>{m.id}</code> },
          ]}
        />
      </section>
      {id && detail.data && (
        <section>
          <h2>Balances</h2>
          <Table
            rows={[detail.data[0]]}
            columns={['cash', 'margin', 'escrow', 'pending'].map((k) => ({
              title: `${k} (CNY)`,
              value: (b: Record<string, string>) => cny(b[k]),
              num: true,
            }))}
          />
          <h2>Positions</h2>
          <Table
            rows={detail.data[1].items.filter((p) => p.memberId === id)}
            columns={['series', 'long', 'short', 'net'].map((k) => ({
              title: k,
              value: (p: Record<string, unknown>) => String(p[k]),
              num: k !== 'series',
            }))}
          />
          <h2>Margin calls</h2>
          <Table
            rows={detail.data[2].items.filter((c) => c.memberId === id)}
            columns={['businessDate', 'amount', 'status', 'dueAt'].map((k) => ({
              title: k,
              value: (c: Record<string, unknown>) => String(c[k]),
            }))}
          />
          <form className="inline" onSubmit={(e) => (e.preventDefault(), void download())}>
            <label>
              statement date <input value={date} onChange={(e) => setDate(e.target.value)} placeholder="YYYY-MM-DD" />
            </label>
            <button type="submit">Download CSV</button>
          </form>
        </section>
      )}
    </>
  );
}

function Capacity() {
  const { data, error } = useLoad(
    () =>
      Promise.all([
        api<{
          items: {
            modelClass: string;
            region: string;
            onlineNodes: number;
            tokensPerSecond: number;
            committedTokensPerSecond: number;
            availableTokensPerSecond: number;
          }[];
        }>('GET', '/v1/capacity'),
        api<{
          items: {
            id: string;
            operatorId: string;
            region: string;
            status: string;
            gpuModel: string;
            models: { modelClass: string; tokensPerSecond: number }[];
            lastHeartbeatAt: string | null;
          }[];
        }>('GET', '/v1/nodes'),
      ]),
    [],
    5_000,
  );
  const max = Math.max(1, ...(data?.[0].items.map((c) => c.tokensPerSecond) ?? [1]));
  return (
    <>
      <ErrorBox error={error} />
      <section>
        <h2>Capacity by model class × region (tokens/s)</h2>
        <Table
          rows={data?.[0].items}
          columns={[
            { title: 'model class', value: (c) => c.modelClass },
            { title: 'region', value: (c) => c.region },
            { title: 'online nodes', value: (c) => c.onlineNodes, num: true },
            { title: 'tokens/s', value: (c) => c.tokensPerSecond.toLocaleString('en'), num: true },
            { title: 'committed', value: (c) => c.committedTokensPerSecond.toLocaleString('en'), num: true },
            { title: 'available', value: (c) => c.availableTokensPerSecond.toLocaleString('en'), num: true },
            { title: 'committed of total', value: (c) => <Bar value={c.committedTokensPerSecond} total={c.tokensPerSecond} /> },
            { title: 'share of largest', value: (c) => <Bar value={c.tokensPerSecond} total={max} /> },
          ]}
        />
      </section>
      <section>
        <h2>Nodes</h2>
        <Table
          rows={data?.[1].items}
          rowClass={(n) => (n.status === 'OFFLINE' ? 'offline' : '')}
          columns={[
            { title: 'node', value: (n) => <code>{n.id.slice(0, 8)}</code> },
            { title: 'operator', value: (n) => <code>{n.operatorId.slice(0, 8)}</code> },
            { title: 'region', value: (n) => n.region },
            { title: 'status', value: (n) => <span className={n.status === 'OFFLINE' ? 'bad' : 'good'}>{n.status}</span> },
            { title: 'models', value: (n) => n.models.map((m) => `${m.modelClass} ${m.tokensPerSecond}/s`).join(', ') },
            { title: 'last heartbeat', value: (n) => n.lastHeartbeatAt ?? '—' },
          ]}
        />
      </section>
    </>
  );
}

function Delivery() {
  const { data, error } = useLoad(
    () =>
      Promise.all([
        api<{
          items: {
            id: string;
            series: string;
            sellerId: string;
            buyerId: string;
            tokens: number;
            deliveredTokens: number;
            shortfallTokens: number;
            status: string;
            released: string;
            penalty: string;
          }[];
        }>('GET', '/v1/obligations?limit=500'),
        api<{ items: { id: string; failure: { code: string } | null }[] }>('GET', '/v1/delivery/jobs?status=FAILED&limit=500'),
        api<{ items: { operatorId: string; jobs: number; ttftBreaches: number; rateBreaches: number }[] }>('GET', '/v1/delivery/quality'),
      ]),
    [],
    5_000,
  );
  const reasons = new Map<string, number>();
  for (const j of data?.[1].items ?? []) reasons.set(j.failure?.code ?? 'UNKNOWN', (reasons.get(j.failure?.code ?? 'UNKNOWN') ?? 0) + 1);
  return (
    <>
      <ErrorBox error={error} />
      <section>
        <h2>Obligations</h2>
        <Table
          rows={data?.[0].items}
          columns={[
            { title: 'series', value: (o) => o.series },
            { title: 'seller', value: (o) => <code>{o.sellerId.slice(0, 8)}</code> },
            { title: 'buyer', value: (o) => <code>{o.buyerId.slice(0, 8)}</code> },
            { title: 'tokens', value: (o) => o.tokens.toLocaleString('en'), num: true },
            { title: 'delivered', value: (o) => o.deliveredTokens.toLocaleString('en'), num: true },
            { title: 'remaining', value: (o) => (o.tokens - o.deliveredTokens).toLocaleString('en'), num: true },
            { title: 'delivered of total', value: (o) => <Bar value={o.deliveredTokens} total={o.tokens} /> },
            { title: 'shortfall', value: (o) => o.shortfallTokens.toLocaleString('en'), num: true },
            { title: 'paid (CNY)', value: (o) => cny(o.released), num: true },
            { title: 'penalty (CNY)', value: (o) => cny(o.penalty), num: true },
            { title: 'status', value: (o) => o.status },
          ]}
        />
      </section>
      <section>
        <h2>Failed jobs by reason</h2>
        <Table
          rows={[...reasons.entries()]}
          empty="no failed jobs"
          columns={[
            { title: 'reason', value: (r) => r[0] },
            { title: 'jobs', value: (r) => r[1], num: true },
          ]}
        />
      </section>
      <section>
        <h2>Quality-spec breaches per operator</h2>
        <Table
          rows={data?.[2].items}
          empty="no deliveries yet"
          columns={[
            { title: 'operator', value: (q) => <code>{q.operatorId.slice(0, 8)}</code> },
            { title: 'jobs', value: (q) => q.jobs, num: true },
            { title: 'TTFT breaches', value: (q) => q.ttftBreaches, num: true },
            { title: 'rate breaches', value: (q) => q.rateBreaches, num: true },
          ]}
        />
      </section>
    </>
  );
}

function Markets() {
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
              `/v1/series/${code}/book`,
            ),
            api<{ items: { price: string; quantity: number; createdAt: string }[] }>('GET', `/v1/trades?series=${code}&limit=20`),
          ])
        : undefined,
    [code],
    3_000,
  );
  const selected = data?.series.find((s) => s.code === code);
  return (
    <>
      <ErrorBox error={error} />
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

export const PAGES: { id: string; title: string; component: ComponentType<{ me: Me }> }[] = [
  { id: 'overview', title: 'Overview', component: Overview },
  { id: 'runs', title: 'Settlement runs', component: Runs },
  { id: 'breaks', title: 'Breaks', component: Breaks },
  { id: 'adjustments', title: 'Adjustments', component: Adjustments },
  { id: 'members', title: 'Members', component: Members },
  { id: 'capacity', title: 'Capacity', component: Capacity },
  { id: 'delivery', title: 'Delivery', component: Delivery },
  { id: 'markets', title: 'Markets', component: Markets },
];
