// Histograms from the API's own /metrics (Prometheus text format), diffed between two scrapes so
// a figure covers one phase of a bench only, and summed over the API's copies.

/** Cumulative count per bucket upper bound (`le`), +Inf included. */
export type Buckets = Map<number, number>;

export async function scrape(base: string): Promise<string> {
  const res = await fetch(`${base}/metrics`);
  if (!res.ok) throw new Error(`${base}/metrics → ${res.status}`);
  return res.text();
}

/** The buckets of histogram `name` whose labels include `labels`, summed over the other labels. */
export function buckets(text: string, name: string, labels: Record<string, string> = {}): Buckets {
  const out: Buckets = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    const set = Object.fromEntries([...line.slice(0, line.lastIndexOf('}')).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).some(([k, v]) => set[k] !== v)) continue;
    const le = set.le === '+Inf' ? Infinity : Number(set.le);
    out.set(le, (out.get(le) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

/** The sum of the samples named exactly `name` (a counter, a histogram's _sum or _count) whose labels include `labels`. */
export function scalar(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const set = Object.fromEntries([...line.slice(0, line.lastIndexOf(' ')).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).some(([k, v]) => set[k] !== v)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** after − before, bucket by bucket (a process that started in between has no `before`: pass an empty map). */
export function minus(after: Buckets, before: Buckets): Buckets {
  return new Map([...after].map(([le, n]) => [le, n - (before.get(le) ?? 0)]));
}

export function plus(a: Buckets, b: Buckets): Buckets {
  const out = new Map(a);
  for (const [le, n] of b) out.set(le, (out.get(le) ?? 0) + n);
  return out;
}

/**
 * The q-quantile as the histogram can tell it: the upper bound of the first bucket holding it, so
 * the true value is at most that (bucket-bounded, never interpolated). Infinity: above the last bound.
 */
export function quantileBound(b: Buckets, q: number): { le: number; count: number } {
  const sorted = [...b].sort(([x], [y]) => x - y);
  const count = sorted.at(-1)?.[1] ?? 0;
  const le = sorted.find(([, n]) => n >= q * count && n > 0)?.[0] ?? NaN;
  return { le, count };
}

/** "≤ 0.5 ms" for a bound in seconds. */
export function formatBound(le: number): string {
  if (Number.isNaN(le)) return 'n/a (no observations)';
  return le === Infinity ? 'above the last bucket' : `≤ ${+(le * 1000).toPrecision(3)} ms`;
}
