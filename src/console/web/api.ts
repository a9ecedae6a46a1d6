import { createApiClient, data, type ApiClient, type ApiResult } from '../../client/api';

/** The console's only way to the API: the typed client (src/client), the clearing key from session storage, problem+json errors. */
export interface Problem {
  status: number;
  code: string;
  title: string;
  detail?: string;
}

export class ApiProblem extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title);
  }
}

const KEY = 'tokenclear.key';
export const session = {
  get: () => sessionStorage.getItem(KEY),
  set: (key: string) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

/** Signed-in calls: the session's key on each request. */
export const client: ApiClient = createApiClient({ baseUrl: location.origin, key: () => session.get() });
/** The public board's calls: never a key. */
export const publicClient: ApiClient = createApiClient({ baseUrl: location.origin });

/** The body of a successful call, or an ApiProblem (the problem+json, or a stand-in when the body is not one). */
export async function call<T>(request: Promise<ApiResult>): Promise<T> {
  const res = await request;
  if (!res.response.ok) {
    const error = res.error;
    throw new ApiProblem(
      typeof error === 'object' && error !== null
        ? (error as Problem)
        : { status: res.response.status, code: 'HTTP_ERROR', title: `HTTP ${res.response.status}` },
    );
  }
  return data<T | undefined>(res) ?? ({} as T);
}

/**
 * A call by method and path, for paths built at run time (lists with their filters, actions on
 * a row): the same typed client underneath, with the path checked at run time only.
 */
export function api<T>(method: 'GET' | 'POST', path: string, body?: unknown, key?: string): Promise<T> {
  return call<T>(
    client.request(
      method.toLowerCase() as 'get',
      path as '/v1/me',
      {
        ...(body === undefined ? {} : { body: body as never }),
        ...(key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } }),
      } as never,
    ),
  );
}

/** Money as the API sends it (decimal strings); shown with thousands separators, never as floats. */
export function cny(amount: string | null | undefined): string {
  if (amount === null || amount === undefined) return '—';
  const negative = amount.startsWith('-');
  const [whole, frac = '00'] = amount.replace('-', '').split('.');
  return `${negative ? '-' : ''}${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${frac}`;
}
