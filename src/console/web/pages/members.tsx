import { useState } from 'react';
import { api, call, client, cny, session } from '../api';
import { More, usePaged } from '../paged';
import { ErrorBox, Table, useAction, useLoad } from '../ui';

interface Member {
  id: string;
  name: string;
  kind: string;
  status: string;
}

type Row = Record<string, unknown>;

interface BankAccount {
  id: string;
  bankCode: string;
  accountNumber: string;
  holderName: string;
  status: string;
}

/** Members, and one member's balances, positions, margin calls and statements. */
export function Members() {
  const members = usePaged<Member>('/v1/members');
  const [id, setId] = useState<string>();
  return (
    <>
      <section>
        <h2>Members</h2>
        <ErrorBox error={members.error} />
        <Table
          rows={members.items}
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
        <More list={members} what="members" />
      </section>
      {id && <MemberDetail id={id} />}
    </>
  );
}

function MemberDetail({ id }: { id: string }) {
  const balances = useLoad(() => call<Record<string, string>>(client.GET('/v1/members/{id}/balances', { params: { path: { id } } })), [id]);
  // Neither list filters by member yet: the member's rows are picked from each page as it loads.
  const positions = usePaged<Row>('/v1/positions');
  const calls = usePaged<Row>('/v1/margin-calls');
  const [date, setDate] = useState('');
  const download = async () => {
    const res = await fetch(`/v1/members/${id}/statements/${date}?format=csv`, { headers: { authorization: `Bearer ${session.get()}` } });
    if (!res.ok) return alert(((await res.json()) as { detail?: string }).detail ?? res.statusText);
    const url = URL.createObjectURL(await res.blob());
    Object.assign(document.createElement('a'), { href: url, download: `statement-${id}-${date}.csv` }).click();
  };
  return (
    <section>
      <ErrorBox error={balances.error ?? positions.error ?? calls.error} />
      <h2>Balances</h2>
      <Table
        rows={balances.data ? [balances.data] : undefined}
        columns={['cash', 'margin', 'escrow', 'pending'].map((k) => ({
          title: `${k} (CNY)`,
          value: (b: Record<string, string>) => cny(b[k]),
          num: true,
        }))}
      />
      <h2>Positions</h2>
      <Table
        rows={positions.items?.filter((p) => p.memberId === id)}
        columns={['series', 'long', 'short', 'net'].map((k) => ({
          title: k,
          value: (p: Row) => String(p[k]),
          num: k !== 'series',
        }))}
      />
      <More list={positions} what="positions" />
      <h2>Margin calls</h2>
      <Table
        rows={calls.items?.filter((c) => c.memberId === id)}
        columns={['businessDate', 'amount', 'status', 'dueAt'].map((k) => ({
          title: k,
          value: (c: Row) => String(c[k]),
        }))}
      />
      <More list={calls} what="margin calls" />
      <BankAccounts memberId={id} />
      <form className="inline" onSubmit={(e) => (e.preventDefault(), void download())}>
        <label>
          statement date <input value={date} onChange={(e) => setDate(e.target.value)} placeholder="YYYY-MM-DD" />
        </label>
        <button type="submit">Download CSV</button>
      </form>
    </section>
  );
}

/** Where the member's payouts go; a pending account is verified by a clearing person other than its proposer. */
function BankAccounts({ memberId }: { memberId: string }) {
  const accounts = usePaged<BankAccount>(`/v1/members/${memberId}/bank-accounts`);
  const { act, error } = useAction(accounts.reload);
  return (
    <>
      <h2>Bank accounts</h2>
      <ErrorBox error={accounts.error ?? error} />
      <Table
        rows={accounts.items}
        empty="no bank account: the member cannot withdraw"
        columns={[
          { title: 'bank (CNAPS)', value: (a) => <code>{a.bankCode}</code> },
          { title: 'account', value: (a) => <code>{a.accountNumber}</code> },
          { title: 'holder', value: (a) => a.holderName },
          { title: 'status', value: (a) => a.status },
          {
            title: '',
            value: (a) =>
              a.status === 'PENDING' && (
                <>
                  <button
                    onClick={() => act(() => api('POST', `/v1/bank-accounts/${a.id}/approve`, {}))}
                    aria-label={`approve ${a.accountNumber}`}
                  >
                    Approve
                  </button>{' '}
                  <button
                    className="secondary"
                    onClick={() => act(() => api('POST', `/v1/bank-accounts/${a.id}/reject`, { reason: 'rejected in console' }))}
                    aria-label={`reject ${a.accountNumber}`}
                  >
                    Reject
                  </button>
                </>
              ),
          },
        ]}
      />
      <More list={accounts} what="bank accounts" />
    </>
  );
}
