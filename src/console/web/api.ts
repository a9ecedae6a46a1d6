/** The console's only way to the API: the clearing key from session storage, problem+json errors. */
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

export async function api<T>(method: string, path: string, body?: unknown, key = session.get()): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) {
    let problem: Problem = { status: res.status, code: 'HTTP_ERROR', title: `HTTP ${res.status}` };
    try {
      problem = JSON.parse(text) as Problem;
    } catch {
      // not problem+json
    }
    throw new ApiProblem(problem);
  }
  return (text ? JSON.parse(text) : {}) as T;
}

/** Money as the API sends it (decimal strings); shown with thousands separators, never as floats. */
export function cny(amount: string | null | undefined): string {
  if (amount === null || amount === undefined) return '—';
  const negative = amount.startsWith('-');
  const [whole, frac = '00'] = amount.replace('-', '').split('.');
  return `${negative ? '-' : ''}${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${frac}`;
}
