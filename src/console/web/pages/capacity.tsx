import { More, usePaged } from '../paged';
import { Bar, ErrorBox, Table } from '../ui';

interface CapacityRow {
  modelClass: string;
  region: string;
  onlineNodes: number;
  tokensPerSecond: number;
  committedTokensPerSecond: number;
  availableTokensPerSecond: number;
}

interface NodeRow {
  id: string;
  operatorId: string;
  region: string;
  status: string;
  gpuModel: string;
  models: { modelClass: string; tokensPerSecond: number }[];
  lastHeartbeatAt: string | null;
}

interface StandbyRow {
  id: string;
  operatorId: string;
  modelClass: string;
  regions: string[];
  tokens: number;
  remainingTokens: number;
  premiumBp: number;
  status: string;
}

/** Capacity by model class and region, every node with its last heartbeat, and standby offers for buy-ins. */
export function Capacity() {
  // Capacity has no stream channel: it follows delivery (jobs), and loads again on each visit.
  const capacity = usePaged<CapacityRow>('/v1/capacity', { live: [{ channel: 'jobs' }], limit: null });
  const nodes = usePaged<NodeRow>('/v1/nodes', { live: [{ channel: 'jobs' }] });
  const standby = usePaged<StandbyRow>('/v1/standby-offers', { live: [{ channel: 'jobs' }] });
  const max = Math.max(1, ...(capacity.items?.map((c) => c.tokensPerSecond) ?? [1]));
  return (
    <>
      <ErrorBox error={capacity.error ?? nodes.error} />
      <section>
        <h2>Capacity by model class × region (tokens/s)</h2>
        <Table
          rows={capacity.items}
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
        <More list={capacity} what="capacity rows" />
      </section>
      <section>
        <h2>Nodes</h2>
        <Table
          rows={nodes.items}
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
        <More list={nodes} what="nodes" />
      </section>
      <section>
        <h2>Standby capacity (buy-in offers, lowest premium first when used)</h2>
        <ErrorBox error={standby.error} />
        <Table
          rows={standby.items}
          empty="no standby offers"
          columns={[
            { title: 'operator', value: (o) => <code>{o.operatorId.slice(0, 8)}</code> },
            { title: 'model class', value: (o) => o.modelClass },
            { title: 'regions', value: (o) => o.regions.join(', ') },
            {
              title: 'tokens left',
              value: (o) => `${o.remainingTokens.toLocaleString('en')} of ${o.tokens.toLocaleString('en')}`,
              num: true,
            },
            { title: 'premium (bp)', value: (o) => o.premiumBp, num: true },
            { title: 'status', value: (o) => o.status },
          ]}
        />
        <More list={standby} what="standby offers" />
      </section>
    </>
  );
}
