import { cny } from '../api';
import { More, usePaged } from '../paged';
import { Bar, ErrorBox, Table } from '../ui';

interface Obligation {
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
}

interface FailedJob {
  id: string;
  failure: { code: string } | null;
}

interface Quality {
  operatorId: string;
  jobs: number;
  ttftBreaches: number;
  rateBreaches: number;
  meteringDiscrepancies: number;
  impossibleTimings: number;
  verificationsPassed: number;
  verificationsFailed: number;
}

/** A completed job as the list shows it: the node's report beside the clearing house's count. */
interface MeteredJob {
  id: string;
  nodeId: string | null;
  metering: {
    reported: { promptTokens: number; completionTokens: number };
    counted: { promptTokens: number; completionTokens: number };
    billableTokens: number;
    discrepancyBp: number;
    flagged: boolean;
    timingFlagged: boolean;
  } | null;
  verification: { status: string; similarityBp?: number };
}

const tokens = (p: { promptTokens: number; completionTokens: number }) => `${p.promptTokens} + ${p.completionTokens}`;

/**
 * Obligations and their progress, failed jobs by reason, metering of completed jobs (counted vs
 * reported, flags, verification), quality per operator.
 */
export function Delivery() {
  const obligations = usePaged<Obligation>('/v1/obligations', { live: [{ channel: 'obligations' }] });
  const failed = usePaged<FailedJob>('/v1/delivery/jobs?status=FAILED', { live: [{ channel: 'jobs' }] });
  const quality = usePaged<Quality>('/v1/delivery/quality', { live: [{ channel: 'jobs' }], limit: null });
  const metered = usePaged<MeteredJob>('/v1/delivery/jobs?status=COMPLETED', { live: [{ channel: 'jobs' }] });
  const reasons = new Map<string, number>();
  for (const j of failed.items ?? []) reasons.set(j.failure?.code ?? 'UNKNOWN', (reasons.get(j.failure?.code ?? 'UNKNOWN') ?? 0) + 1);
  return (
    <>
      <ErrorBox error={obligations.error ?? failed.error ?? quality.error ?? metered.error} />
      <section>
        <h2>Obligations</h2>
        <Table
          rows={obligations.items}
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
        <More list={obligations} what="obligations" />
      </section>
      <section>
        <h2>Failed jobs by reason</h2>
        {failed.hasMore && <p>Counted over the {failed.items?.length} failed jobs loaded so far.</p>}
        <Table
          rows={failed.items ? [...reasons.entries()] : undefined}
          empty="no failed jobs"
          columns={[
            { title: 'reason', value: (r) => r[0] },
            { title: 'jobs', value: (r) => r[1], num: true },
          ]}
        />
        <More list={failed} what="failed jobs" />
      </section>
      <section>
        <h2>Metering of completed jobs</h2>
        <Table
          rows={metered.items}
          empty="no completed jobs"
          columns={[
            { title: 'job', value: (j) => <code>{j.id.slice(0, 8)}</code> },
            { title: 'node', value: (j) => <code>{j.nodeId?.slice(0, 8) ?? '—'}</code> },
            { title: 'counted (in + out)', value: (j) => (j.metering ? tokens(j.metering.counted) : '—'), num: true },
            { title: 'reported (in + out)', value: (j) => (j.metering ? tokens(j.metering.reported) : '—'), num: true },
            { title: 'billable', value: (j) => j.metering?.billableTokens ?? '—', num: true },
            {
              title: 'discrepancy (bp)',
              value: (j) => (j.metering ? `${j.metering.discrepancyBp}${j.metering.flagged ? ' ⚑' : ''}` : '—'),
              num: true,
            },
            { title: 'timing', value: (j) => (j.metering?.timingFlagged ? 'impossible ⚑' : 'ok') },
            {
              title: 'verification',
              value: (j) =>
                j.verification.similarityBp !== undefined
                  ? `${j.verification.status} (${j.verification.similarityBp} bp)`
                  : j.verification.status,
            },
          ]}
        />
        <More list={metered} what="completed jobs" />
      </section>
      <section>
        <h2>Quality per operator</h2>
        <Table
          rows={quality.items}
          empty="no deliveries yet"
          columns={[
            { title: 'operator', value: (q) => <code>{q.operatorId.slice(0, 8)}</code> },
            { title: 'jobs', value: (q) => q.jobs, num: true },
            { title: 'TTFT breaches', value: (q) => q.ttftBreaches, num: true },
            { title: 'rate breaches', value: (q) => q.rateBreaches, num: true },
            { title: 'metering discrepancies', value: (q) => q.meteringDiscrepancies, num: true },
            { title: 'impossible timings', value: (q) => q.impossibleTimings, num: true },
            { title: 'verified ✓', value: (q) => q.verificationsPassed, num: true },
            { title: 'verified ✗', value: (q) => q.verificationsFailed, num: true },
          ]}
        />
        <More list={quality} what="operators" />
      </section>
    </>
  );
}
