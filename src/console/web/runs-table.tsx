import { cny } from './api';
import type { Run } from './types';
import { Bar, Table } from './ui';

const runSeries = (r: Run) => r.series ?? `${r.seriesCount} series`;

export function RunsTable({ runs }: { runs: Run[] | undefined }) {
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
