// Every stable error code the API can answer with, and its HTTP status. Adding a code here is
// the only way to add one; the filter maps DomainError -> problem+json from this table.
export const ERROR_CATALOG = {
  VALIDATION_FAILED: { status: 400, title: 'Request validation failed' },
  MALFORMED_JSON: { status: 400, title: 'Request body is not valid JSON' },
  INVALID_ID: { status: 400, title: 'Malformed identifier' },
  UNAUTHENTICATED: { status: 401, title: 'Missing or invalid API key' },
  API_KEY_REVOKED: { status: 401, title: 'API key has been revoked' },
  FORBIDDEN_ROLE: { status: 403, title: 'Role not allowed for this operation' },
  MEMBER_SUSPENDED: { status: 403, title: 'Member is suspended' },
  NOT_FOUND: { status: 404, title: 'Resource not found' },
  ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  IDEMPOTENCY_KEY_REUSED: { status: 409, title: 'Idempotency key reused with a different request' },
  IDEMPOTENCY_IN_PROGRESS: { status: 409, title: 'A request with this idempotency key is still running' },
  INVALID_IDEMPOTENCY_KEY: { status: 400, title: 'Idempotency-Key header is malformed' },
  ROLE_KIND_MISMATCH: { status: 409, title: 'Role does not fit the member kind' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Request body too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  INTERNAL: { status: 500, title: 'Internal error' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'A dependency is unavailable' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export interface FieldError {
  field: string;
  message: string;
}

/** A failure the caller can act on; always rendered as problem+json with its code. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    readonly errors?: FieldError[],
  ) {
    super(detail ?? ERROR_CATALOG[code].title);
    this.name = 'DomainError';
  }

  get status(): number {
    return ERROR_CATALOG[this.code].status;
  }
}

export const notFound = (what: string): DomainError => new DomainError('NOT_FOUND', `${what} not found`);
