import { createHash } from 'node:crypto';

/**
 * The trace of an obligation (SPEC §6.1) as a hash chain: trades → obligation → each job and its
 * usage record → ledger transfers, every link hashing its content with the previous link's hash,
 * so changing any figure after the chain was sealed changes its head.
 *
 * Canonical form, the one rule every hash here uses: JSON with object keys sorted
 * (lexicographically, at every depth), no whitespace, bigints as decimal strings, dates as ISO
 * 8601 UTC (toISOString), undefined as null. A link's hash is
 * sha256hex(canonical({kind, id, content, prevHash})); the first link's prevHash is GENESIS.
 */
export const GENESIS = '0'.repeat(64);

export type TraceKind = 'TRADE' | 'OBLIGATION' | 'JOB' | 'USAGE' | 'TRANSFER';

export type TraceValue = string | number | boolean | bigint | Date | null | undefined;

export interface TraceEntry {
  kind: TraceKind;
  id: string;
  content: Record<string, TraceValue>;
}

export interface TraceLink {
  kind: TraceKind;
  id: string;
  content: Record<string, string | number | boolean | null>;
  prevHash: string;
  hash: string;
}

function plain(v: TraceValue): string | number | boolean | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Date) return v.toISOString();
  return v;
}

/** The canonical JSON text of a value (see above). */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'bigint') return JSON.stringify(value.toString());
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function linkHash(kind: TraceKind, id: string, content: TraceLink['content'], prevHash: string): string {
  return sha256Hex(canonicalJson({ kind, id, content, prevHash }));
}

/** Chains the entries in order; the last link's hash is the chain's head. */
export function chain(entries: TraceEntry[]): TraceLink[] {
  const links: TraceLink[] = [];
  let prev = GENESIS;
  for (const e of entries) {
    const content = Object.fromEntries(Object.entries(e.content).map(([k, v]) => [k, plain(v)]));
    const hash = linkHash(e.kind, e.id, content, prev);
    links.push({ kind: e.kind, id: e.id, content, prevHash: prev, hash });
    prev = hash;
  }
  return links;
}

export function headHash(links: TraceLink[]): string {
  return links.at(-1)?.hash ?? GENESIS;
}

/** True when every link's hash is recomputed from its content and carries its predecessor's hash. */
export function verifyChain(links: TraceLink[], first = GENESIS): boolean {
  let prev = first;
  for (const l of links) {
    if (l.prevHash !== prev || linkHash(l.kind, l.id, l.content, prev) !== l.hash) return false;
    prev = l.hash;
  }
  return true;
}
