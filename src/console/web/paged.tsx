import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from './api';
import { useLiveReload, type Live } from './live';

/** Every list endpoint answers one page of rows and the cursor of the next (null on the last). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * Rows per request. Without `?pageSize=` on the console's own URL the API's default page applies
 * (and no `limit` is sent, which lists that do not page yet would refuse); with it, 1–500.
 */
export function pageSize(): number | undefined {
  const n = Number(new URLSearchParams(location.search).get('pageSize') ?? '');
  return Number.isInteger(n) && n >= 1 && n <= 500 ? n : undefined;
}

function pagePath(path: string, cursor: string | null, limit: number | undefined): string {
  const params = new URLSearchParams();
  if (limit !== undefined) params.set('limit', String(limit));
  if (cursor) params.set('cursor', cursor);
  const extra = params.toString();
  return extra ? `${path}${path.includes('?') ? '&' : '?'}${extra}` : path;
}

export interface Paged<T> {
  /** The rows loaded so far (undefined until the first page arrives). */
  items: T[] | undefined;
  error: unknown;
  /** Whether the API holds rows past those loaded. */
  hasMore: boolean;
  more: () => Promise<void>;
  reload: () => Promise<void>;
}

/**
 * A paged list: the first page on mount, the next one on `more()`. A reload (on stream news on `live`,
 * after an action, or when `path` changes) fetches again as many pages as were shown, so a
 * refresh never takes back rows the user asked for. `path` undefined: nothing to load.
 */
export function usePaged<T>(path: string | undefined, opts: { live?: Live[]; limit?: number | null } = {}): Paged<T> {
  // null: an aggregate that takes no page size, though it answers in the same shape.
  const limit = opts.limit === null ? undefined : (opts.limit ?? pageSize());
  const [state, setState] = useState<{ path: string; items: T[]; nextCursor: string | null }>();
  const [error, setError] = useState<unknown>();
  const pages = useRef(1);
  const current = useRef(path);
  current.current = path;

  const reload = useCallback(async () => {
    if (path === undefined) return;
    try {
      const items: T[] = [];
      let cursor: string | null = null;
      let loaded = 0;
      do {
        const page: Page<T> = await api<Page<T>>('GET', pagePath(path, cursor, limit));
        items.push(...page.items);
        cursor = page.nextCursor;
        loaded++;
      } while (cursor !== null && loaded < pages.current);
      if (current.current !== path) return; // the filter changed meanwhile: a newer load owns the list
      setState({ path, items, nextCursor: cursor });
      setError(undefined);
    } catch (err) {
      setError(err);
    }
  }, [path, limit]);

  useEffect(() => {
    pages.current = 1;
    void reload();
  }, [reload]);
  useLiveReload(opts.live, reload);

  const shown = state && state.path === path ? state : undefined;
  const more = async () => {
    if (!shown?.nextCursor) return;
    try {
      const page = await api<Page<T>>('GET', pagePath(shown.path, shown.nextCursor, limit));
      if (current.current !== shown.path) return;
      pages.current++;
      setState({ path: shown.path, items: [...shown.items, ...page.items], nextCursor: page.nextCursor });
      setError(undefined);
    } catch (err) {
      setError(err);
    }
  };
  return { items: shown?.items, error, hasMore: Boolean(shown?.nextCursor), more, reload };
}

/** "Load more" under a paged table, while the API has rows past those shown. */
export function More({ list, what }: { list: Paged<unknown>; what: string }) {
  const [busy, setBusy] = useState(false);
  if (!list.hasMore) return null;
  return (
    <p>
      <button
        className="secondary"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          void list.more().finally(() => setBusy(false));
        }}
      >
        Load more {what}
      </button>
    </p>
  );
}
