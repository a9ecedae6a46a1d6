import createClient, { type Client } from 'openapi-fetch';
import type { paths } from './openapi.js';

// The typed TokenClear client: openapi-fetch over the paths generated from /openapi.json
// (npm run client:generate). Used by the CLI, the console and the agent; runs in Node and in the
// browser. Paths, path parameters, queries and request bodies are checked against the document;
// most responses have no schema there yet, so callers name what they read (`data<T>`).

export type ApiPaths = paths;
export type ApiClient = Client<paths>;

export interface ApiClientOptions {
  /** Origin of the API ('' in the browser: same origin). */
  baseUrl: string;
  /** An API key, node token or clearing key, or where to read it at each request (a session). */
  key?: string | (() => string | null | undefined);
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  // Late-bound fetch: tests and proxies may replace globalThis.fetch after the client is made.
  const client = createClient<paths>({ baseUrl: options.baseUrl, fetch: (request) => globalThis.fetch(request) });
  const key = options.key;
  if (key !== undefined)
    client.use({
      onRequest({ request }) {
        const value = typeof key === 'function' ? key() : key;
        // A call that names its own key (a sign-in checking one) keeps it.
        if (value && !request.headers.has('authorization')) request.headers.set('authorization', `Bearer ${value}`);
        return request;
      },
    });
  return client;
}

/** What every call answers: openapi-fetch's result, before the caller picks data or problem. */
export interface ApiResult {
  data?: unknown;
  error?: unknown;
  response: Response;
}

/** An application/problem+json answer, as far as it is one. */
export interface Problem {
  status?: number;
  code?: string;
  title?: string;
  detail?: string;
  [field: string]: unknown;
}

/** The problem of a failed call: the parsed body when it is an object, else nothing. */
export function problemOf(result: ApiResult): Problem {
  return typeof result.error === 'object' && result.error !== null ? (result.error as Problem) : {};
}

/** The body of a failed call as text (a problem re-serialised, or what the server sent). */
export function errorText(result: ApiResult): string {
  if (result.error === undefined) return '';
  return typeof result.error === 'string' ? result.error : JSON.stringify(result.error);
}

/** The successful body as the caller knows it, or undefined for a failure (check `response.ok`). */
export function data<T>(result: ApiResult): T {
  return result.data as T;
}
