import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { from, mergeMap, type Observable } from 'rxjs';
import { MUTATING_METHODS, type TcRequest } from '../http/request-context.js';
import { AUDIT_META, AUDIT_SKIP, type AuditMeta } from './audited.decorator.js';
import { AuditRecorder } from './audit-recorder.js';

/** Records the success of every state-changing request; the exception filter records failures. */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly recorder: AuditRecorder,
  ) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = ctx.switchToHttp().getRequest<TcRequest & { auditMeta?: AuditMeta }>();
    if (!MUTATING_METHODS.has(req.method) || this.reflector.get<boolean>(AUDIT_SKIP, ctx.getHandler())) return next.handle();
    const meta = this.reflector.get<AuditMeta | undefined>(AUDIT_META, ctx.getHandler());
    if (meta) req.auditMeta = meta;
    return next.handle().pipe(
      mergeMap((value) =>
        from(
          (async () => {
            const resultId = value && typeof value === 'object' && 'id' in value ? String((value as { id: unknown }).id) : undefined;
            if (!req.auditedInTransaction) await this.recorder.record(req, { outcome: 'SUCCESS', targetId: resultId });
            return value;
          })(),
        ),
      ),
    );
  }
}
