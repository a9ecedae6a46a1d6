import { HttpStatus, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants.js';
import { Reflector } from '@nestjs/core';
import { from, mergeMap, type Observable } from 'rxjs';
import { DomainError } from '../errors/error-codes.js';
import { build } from '../errors/problem.js';
import { MUTATING_METHODS, type TcRequest } from '../http/request-context.js';
import { requestFingerprint } from './fingerprint.js';
import { IdempotencyRepository, type StoredResponse } from './idempotency.repository.js';
import { ISSUES_SECRET } from './issues-secret.decorator.js';
import { ReplayResponse } from './replay-response.js';

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
const WAIT_STEP_MS = 25;
const WAIT_LIMIT_MS = 10_000;

/**
 * Idempotency-Key on any mutating request: the first response (success or 4xx) is stored and
 * replayed byte for byte; a concurrent duplicate waits for the first to finish.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly records: IdempotencyRepository,
    private readonly reflector: Reflector,
  ) {}

  async intercept(ctx: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const req = ctx.switchToHttp().getRequest<TcRequest>();
    const key = req.header('idempotency-key');
    if (!MUTATING_METHODS.has(req.method) || key === undefined || !req.principal) return next.handle();
    if (!KEY_PATTERN.test(key)) {
      throw new DomainError('INVALID_IDEMPOTENCY_KEY', 'Use 1-255 printable ASCII characters');
    }

    const claimReq = {
      memberId: req.principal.memberId,
      key,
      method: req.method,
      path: req.originalUrl,
      fingerprint: requestFingerprint(req.method, req.originalUrl, req.body),
    };
    const deadline = Date.now() + WAIT_LIMIT_MS;
    for (;;) {
      const claim = await this.records.claim(claimReq);
      if (claim.kind === 'owner') {
        req.idempotency = { recordId: claim.recordId, key };
        break;
      }
      if (claim.kind === 'replay') throw new ReplayResponse(claim.response);
      if (claim.kind === 'mismatch') throw new DomainError('IDEMPOTENCY_KEY_REUSED');
      if (Date.now() > deadline) throw new DomainError('IDEMPOTENCY_IN_PROGRESS');
      await new Promise((r) => setTimeout(r, WAIT_STEP_MS));
    }

    const status =
      this.reflector.get<number | undefined>(HTTP_CODE_METADATA, ctx.getHandler()) ??
      (req.method === 'POST' ? HttpStatus.CREATED : HttpStatus.OK);
    const secretResource = this.reflector.get<string | undefined>(ISSUES_SECRET, ctx.getHandler());
    return next.handle().pipe(
      mergeMap((value) =>
        from(
          (async () => {
            const recordId = req.idempotency?.recordId;
            if (recordId) {
              await this.records.complete(
                recordId,
                secretResource
                  ? secretTombstone(secretResource, value)
                  : {
                      status,
                      type: 'application/json; charset=utf-8',
                      // Express serialises with the same JSON.stringify, so the replay is byte-identical.
                      body: value === undefined ? '' : JSON.stringify(value),
                    },
              );
              req.idempotency = undefined;
            }
            return value;
          })(),
        ),
      ),
    );
  }
}

/**
 * What a secret-issuing request leaves in its idempotency record: not the response (which holds
 * the secret) but the 409 its replays answer, naming the resource the first request created.
 */
function secretTombstone(resource: string, value: unknown): StoredResponse {
  const id =
    typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string'
      ? (value as { id: string }).id
      : undefined;
  const problem = build(
    'SECRET_ALREADY_ISSUED',
    `${resource}${id ? ` ${id}` : ''} was issued by the first request with this Idempotency-Key; its secret was shown once and is not stored. Issue a new one if it was lost.`,
  );
  return {
    status: problem.status,
    type: 'application/problem+json',
    body: JSON.stringify({ ...problem, resource, ...(id ? { id } : {}) }),
  };
}
