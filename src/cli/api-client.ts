/** The CLI's HTTP client: a clearing key, problem+json errors turned into readable failures. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export class CliApi {
  constructor(
    readonly base: string,
    private readonly key: string,
  ) {}

  async request(
    method: string,
    path: string,
    body?: { json?: unknown; raw?: string; contentType?: string },
  ): Promise<{ status: number; text: string; contentType: string }> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.base), {
        method,
        headers: {
          // Public commands may run without a key.
          ...(this.key ? { authorization: `Bearer ${this.key}` } : {}),
          ...(body?.json !== undefined
            ? { 'content-type': 'application/json' }
            : body?.raw !== undefined
              ? { 'content-type': body.contentType ?? 'text/plain' }
              : {}),
        },
        body: body?.json !== undefined ? JSON.stringify(body.json) : body?.raw,
        signal: AbortSignal.timeout(60_000),
      });
    } catch (err) {
      throw new ApiError(0, 'UNREACHABLE', `cannot reach ${this.base}: ${(err as Error).message}`);
    }
    const text = await res.text();
    if (res.status >= 400) {
      let problem: { code?: string; detail?: string; title?: string } = {};
      try {
        problem = JSON.parse(text) as typeof problem;
      } catch {
        // not problem+json
      }
      throw new ApiError(
        res.status,
        problem.code,
        `${method} ${path} → ${res.status} ${problem.code ?? ''}: ${problem.detail ?? problem.title ?? text.slice(0, 200)}`,
      );
    }
    return { status: res.status, text, contentType: res.headers.get('content-type') ?? '' };
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return JSON.parse((await this.request(method, path, body === undefined ? undefined : { json: body })).text) as T;
  }

  /**
   * Every row of a paged list (GET `path` with `query`), following `nextCursor` to the last page
   * at the largest page size: a table that must show all rows never stops at one page.
   */
  async all<T>(path: string, query: URLSearchParams = new URLSearchParams(), field = 'items'): Promise<T[]> {
    const rows: T[] = [];
    const q = new URLSearchParams(query);
    q.set('limit', '500');
    for (;;) {
      const page = await this.json<Record<string, unknown> & { nextCursor: string | null }>('GET', `${path}?${q}`);
      rows.push(...(page[field] as T[]));
      if (!page.nextCursor) return rows;
      q.set('cursor', page.nextCursor);
    }
  }
}
