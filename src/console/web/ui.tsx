import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { ApiProblem } from './api';
import { useLiveReload, type Live } from './live';

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const p = error instanceof ApiProblem ? error.problem : undefined;
  return (
    <div className="error" role="alert">
      {p ? (
        <>
          <strong>{p.title}</strong>
          {p.detail ? ` — ${p.detail}` : ''} <code>{p.code}</code>
        </>
      ) : (
        String((error as Error).message ?? error)
      )}
    </div>
  );
}

/**
 * Loads on mount and again when the stream has news on `live` (no polling); errors are shown,
 * never swallowed. `live.withKey: false` for the public board.
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], live?: { channels: Live[]; withKey?: boolean }) {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const reload = useCallback(() => load().then((d) => (setData(d), setError(undefined)), setError), deps);
  useEffect(() => {
    void reload();
  }, [reload]);
  useLiveReload(live?.channels, reload, live?.withKey ?? true);
  return { data, error, reload };
}

/** Runs a console action, then reloads; the API's refusal is kept to be shown, never swallowed. */
export function useAction(reload: () => Promise<unknown>) {
  const [error, setError] = useState<unknown>();
  const act = async (f: () => Promise<unknown>): Promise<boolean> => {
    try {
      await f();
      setError(undefined);
      await reload();
      return true;
    } catch (err) {
      setError(err);
      return false;
    }
  };
  return { act, error };
}

export interface Column<R> {
  title: string;
  value: (row: R) => ReactNode;
  num?: boolean;
}

export function Table<R>({
  rows,
  columns,
  rowClass,
  empty = 'nothing to show',
}: {
  rows: R[] | undefined;
  columns: Column<R>[];
  rowClass?: (r: R) => string;
  empty?: string;
}) {
  if (!rows) return <p>loading…</p>;
  if (rows.length === 0) return <p>{empty}</p>;
  return (
    <table>
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c.title} className={c.num ? 'num' : undefined}>
              {c.title}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={i} className={rowClass?.(r)}>
            {columns.map((c) => (
              <td key={c.title} className={c.num ? 'num' : undefined}>
                {c.value(r)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Bar({ value, total, label }: { value: number; total: number; label?: string }) {
  const pct = total > 0 ? Math.min(100, (value / total) * 100) : 0;
  return (
    <div
      className="bar"
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={total}
      aria-valuenow={value}
      aria-label={label}
      title={`${value} / ${total}`}
    >
      <span style={{ width: `${pct}%` }} />
    </div>
  );
}

/** A small SVG line chart of prices over dates (settlement price history). */
export function PriceChart({
  points,
  label = 'settlement price history',
  empty = 'no settlement prices yet',
}: {
  points: { businessDate: string; price: string }[];
  label?: string;
  empty?: string;
}) {
  if (points.length === 0) return <p>{empty}</p>;
  const w = 360;
  const h = 120;
  // Pixel positions only: labels show the price strings as the API gave them.
  const ys = points.map((p) => Number(p.price));
  const [lo, hi] = [Math.min(...ys), Math.max(...ys)];
  const y = (v: number) => (hi === lo ? h / 2 : h - 10 - ((v - lo) / (hi - lo)) * (h - 20));
  const x = (i: number) => (points.length === 1 ? w / 2 : 10 + (i * (w - 20)) / (points.length - 1));
  return (
    <svg width={w} height={h} role="img" aria-label={label}>
      <polyline fill="none" stroke="#2a9d8f" strokeWidth="2" points={ys.map((v, i) => `${x(i)},${y(v)}`).join(' ')} />
      {ys.map((v, i) => (
        <circle key={i} cx={x(i)} cy={y(v)} r="3" fill="#14213d">
          <title>{`${points[i].businessDate}: ${points[i].price}`}</title>
        </circle>
      ))}
    </svg>
  );
}
