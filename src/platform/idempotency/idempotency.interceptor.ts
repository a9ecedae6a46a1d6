import { HttpStatus, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants.js';
import { Reflector } from '@nestjs/core';
import { from, mergeMap, type Observable } from 'rxjs';
import { DomainError } from '../errors/error-codes.js';
import { MUTATING_METHODS, type TcRequest } from '../http/request-context.js';
import { requestFingerprint } from './fingerprint.js';
import { IdempotencyRepository } from './idempotency.repository.js';
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
    return next.handle().pipe(
      mergeMap((value) =>
        from(
          (async () => {
            const recordId = req.idempotency?.recordId;
            if (recordId) {
              await this.records.complete(recordId, {
                status,
                type: 'application/json; charset=utf-8',
                // Express serialises with the same JSON.stringify, so the replay is byte-identical.
                body: value === undefined ? '' : JSON.stringify(value),
              });
              req.idempotency = undefined;
            }
            return value;
          })(),
        ),
      ),
    );
  }
}
