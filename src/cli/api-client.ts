import { createApiClient, data, errorText, problemOf, type ApiClient, type ApiResult } from '../client/api.js';

/** The CLI's HTTP client: the typed client with a clearing key, problem+json errors turned into readable failures. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

const TIMEOUT_MS = 60_000;

export class CliApi {
  /** Every call goes through it (src/client/api.ts); `call` adds the CLI's error handling. */
  readonly client: ApiClient;

  constructor(
    readonly base: string,
    private readonly key: string,
  ) {
    this.client = createApiClient({ baseUrl: base, key });
  }

  /** A timeout for each request (the client's `signal`). */
  signal(): AbortSignal {
    return AbortSignal.timeout(TIMEOUT_MS);
  }

  /**
   * Awaits one call of `client` and answers its body; `label` (method and path) names it in the
   * error. An unreachable API and every 4xx/5xx become an ApiError with the problem's code.
   */
  async call<T>(label: string, request: Promise<ApiResult>): Promise<T> {
    let res: ApiResult;
    try {
      res = await request;
    } catch (err) {
      throw new ApiError(0, 'UNREACHABLE', `cannot reach ${this.base}: ${(err as Error).message}`);
    }
    const status = res.response.status;
    if (status >= 400) {
      const problem = problemOf(res);
      throw new ApiError(
        status,
        problem.code,
        `${label} → ${status} ${problem.code ?? ''}: ${problem.detail ?? problem.title ?? errorText(res).slice(0, 200)}`,
      );
    }
    return data<T>(res);
  }

  /**
   * Every row of a paged list, following `nextCursor` to the last page at the largest page size:
   * a table that must show all rows never stops at one page. `page(cursor)` makes one call.
   */
  async all<T>(label: string, page: (limit: number, cursor: string | undefined) => Promise<ApiResult>, field = 'items'): Promise<T[]> {
    const rows: T[] = [];
    let cursor: string | undefined;
    for (;;) {
      const body = await this.call<Record<string, unknown> & { nextCursor: string | null }>(label, page(500, cursor));
      rows.push(...(body[field] as T[]));
      if (!body.nextCursor) return rows;
      cursor = body.nextCursor;
    }
  }

  /**
   * A raw request (bodies the OpenAPI document does not describe: XML bank files, CSV exports),
   * with the same errors as `call`. Public commands may run without a key.
   */
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

  /** A JSON request answered with its parsed body (commands written before the typed client). */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return JSON.parse((await this.request(method, path, body === undefined ? undefined : { json: body })).text) as T;
  }
}
