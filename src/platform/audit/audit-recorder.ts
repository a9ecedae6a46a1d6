import { Injectable } from '@nestjs/common';
import type { AuditOutcome } from '../../generated/prisma/enums.js';
import type { TcRequest } from '../http/request-context.js';
import { AuditRepository, type AuditEntry } from './audit.repository.js';
import type { AuditMeta } from './audited.decorator.js';

/** Builds an audit entry from a request, shared by the success (interceptor) and failure (filter) paths. */
@Injectable()
export class AuditRecorder {
  constructor(private readonly audit: AuditRepository) {}

  async record(
    req: TcRequest & { auditMeta?: AuditMeta },
    result: { outcome: AuditOutcome; targetId?: string; httpStatus?: number; errorCode?: string; action?: string },
  ): Promise<void> {
    await this.audit.append(this.entry(req, result));
  }

  /**
   * The entry `record` appends; a handler may write it in its own transaction instead. `action`
   * overrides the route's (an item of a batch request is recorded as the single request would be).
   */
  entry(
    req: TcRequest & { auditMeta?: AuditMeta },
    result: { outcome: AuditOutcome; targetId?: string; httpStatus?: number; errorCode?: string; action?: string },
  ): AuditEntry {
    const routePath = (req.route as { path?: string } | undefined)?.path ?? req.path;
    const params = req.params as Record<string, string> | undefined;
    return {
      actorMemberId: req.principal?.memberId,
      actorKeyId: req.principal?.keyId,
      role: req.principal?.role,
      action: result.action ?? req.auditMeta?.action ?? `${req.method} ${routePath}`.slice(0, 200),
      targetType: req.auditMeta?.targetType,
      targetId: (params?.id ?? result.targetId)?.slice(0, 200),
      requestId: String(req.id).slice(0, 100),
      idempotencyKey: req.header('idempotency-key')?.slice(0, 255),
      outcome: result.outcome,
      httpStatus: result.httpStatus,
      errorCode: result.errorCode,
    };
  }
}
