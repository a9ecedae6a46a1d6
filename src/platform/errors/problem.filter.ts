import { Catch, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { MUTATING_METHODS, type TcRequest } from '../http/request-context.js';
import { IdempotencyRepository } from '../idempotency/idempotency.repository.js';
import { ReplayResponse } from '../idempotency/replay-response.js';
import { toProblem } from './problem.js';

/** The single place errors become HTTP: RFC 9457 problem+json with a stable `code`. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  constructor(
    private readonly idempotency: IdempotencyRepository,
    private readonly audit: AuditRecorder,
  ) {}

  async catch(exception: unknown, host: ArgumentsHost): Promise<void> {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<TcRequest>();
    const res = ctx.getResponse<Response>();

    if (exception instanceof ReplayResponse) {
      const { status, type, body } = exception.response;
      res.status(status).setHeader('Idempotent-Replayed', 'true');
      res.type(type).send(body);
      return;
    }

    const problem = { ...toProblem(exception), instance: req.originalUrl, requestId: String(req.id) };
    if (problem.status >= 500) {
      this.logger.error({ err: exception, requestId: req.id }, 'unhandled error');
    }
    const body = JSON.stringify(problem);
    try {
      await this.settleIdempotency(req, problem.status, body);
      if (MUTATING_METHODS.has(req.method)) {
        await this.audit.record(req, {
          outcome: 'FAILURE',
          httpStatus: problem.status,
          errorCode: problem.code,
        });
      }
    } catch (bookkeepingError) {
      // Never let the bookkeeping of a failure hide the failure itself from the caller.
      this.logger.error({ err: bookkeepingError, requestId: req.id }, 'failed to record error outcome');
    }
    if (res.headersSent) return;
    if (problem.status === 503) res.setHeader('Retry-After', '1');
    res.status(problem.status).type('application/problem+json').send(body);
  }

  private async settleIdempotency(req: TcRequest, status: number, body: string): Promise<void> {
    const recordId = req.idempotency?.recordId;
    if (!recordId) return;
    req.idempotency = undefined;
    // A 4xx is the answer to this request and replays as such; a 5xx may succeed on retry.
    if (status < 500) {
      await this.idempotency.complete(recordId, { status, type: 'application/problem+json; charset=utf-8', body });
    } else {
      await this.idempotency.release(recordId);
    }
  }
}
