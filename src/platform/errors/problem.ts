import { HttpException } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import { postgresError } from '../prisma/postgres-error.js';
import { DomainError, ERROR_CATALOG, type ErrorCode, type FieldError } from './error-codes.js';

export type ProblemCore = {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  errors?: FieldError[];
};

/** Core members plus extension members (RFC 9457 §3.2), e.g. the per-dependency report of a 503. */
export type Problem = ProblemCore & { [extension: string]: unknown };

const TYPE_BASE = 'https://tokenclear.dev/problems/';

/** The problem body of a domain error code (what the filter writes for a DomainError). */
export function build(code: ErrorCode, detail?: string, errors?: FieldError[]): ProblemCore {
  const { status, title } = ERROR_CATALOG[code];
  return {
    type: TYPE_BASE + code.toLowerCase().replace(/_/g, '-'),
    title,
    status,
    detail: detail ?? title,
    code,
    ...(errors ? { errors } : {}),
  };
}

const BY_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN_ROLE',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

interface BodyParserError {
  type?: string;
  status?: number;
}

// Prisma errors that mean "the database was busy or away", not "your request is wrong": the
// transaction could not start or finish in time, a write conflict/deadlock, a lost connection.
const RETRYABLE_PRISMA = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028', 'P2034']);
// The same from Postgres itself, on a hand-written statement (pg, or Prisma's raw P2010): a
// deadlock it broke or a serialization failure. Either aborted the whole transaction.
const RETRYABLE_SQLSTATE = new Set(['40P01', '40001']);

/** Maps anything thrown to a problem; unknown failures become INTERNAL with no internals leaked. */
export function toProblem(exception: unknown): Problem {
  if (exception instanceof DomainError) return build(exception.code, exception.detail, exception.errors);
  const prismaCode = (exception as { code?: unknown } | undefined)?.code;
  if (
    (typeof prismaCode === 'string' && RETRYABLE_PRISMA.has(prismaCode)) ||
    RETRYABLE_SQLSTATE.has(postgresError(exception)?.code ?? '')
  ) {
    return build('SERVICE_UNAVAILABLE', 'The database is busy; nothing was changed. Retry with the same Idempotency-Key.');
  }
  if (exception instanceof ThrottlerException) return build('RATE_LIMITED');
  const parserType = (exception as BodyParserError | undefined)?.type;
  if (parserType === 'entity.parse.failed') return build('MALFORMED_JSON');
  if (parserType === 'entity.too.large') return build('PAYLOAD_TOO_LARGE');
  if (parserType === 'encoding.unsupported' || parserType === 'charset.unsupported') {
    return build('UNSUPPORTED_MEDIA_TYPE');
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    const message =
      typeof response === 'object' && response && 'message' in response ? (response as { message: unknown }).message : exception.message;
    const detail = Array.isArray(message) ? message.join('; ') : String(message);
    if (status === 404 && /^Cannot [A-Z]+ /.test(detail)) return build('ROUTE_NOT_FOUND', detail);
    // Terminus' readiness failure: keep which dependency is down, as extension members.
    if (status === 503 && typeof response === 'object' && response && 'details' in response) {
      const health = response as { error?: Record<string, unknown>; details?: Record<string, unknown> };
      const down = Object.keys(health.error ?? {});
      return { ...build('SERVICE_UNAVAILABLE', `Not ready: ${down.join(', ')} down`), error: health.error, details: health.details };
    }
    const code = BY_STATUS[status];
    if (code) return build(code, detail);
  }
  return build('INTERNAL', 'An unexpected error occurred; it has been logged with the request id');
}
