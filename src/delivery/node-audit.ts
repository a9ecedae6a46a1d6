import { Inject, Injectable } from '@nestjs/common';
import type { NodePrincipal } from '../capacity/node-token.guard.js';
import { AuditRepository } from '../platform/audit/audit.repository.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import type { TcRequest } from '../platform/http/request-context.js';

/**
 * Node agents' state changes in the audit trail (SPEC §6.2: every state change, node leases and
 * completions included). The node routes are @NotAudited for the generic interceptor, which knows
 * only API-key principals; they record here instead: one row per lease request that took work
 * (an empty long-poll changes nothing and writes nothing), one per completion report (a batch is
 * one row naming the node), one per single completion or failure naming the job. Rows go
 * through the audit repository's group commit, chained like every other event.
 */
@Injectable()
export class NodeAudit {
  constructor(
    private readonly audit: AuditRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async record(req: TcRequest, node: NodePrincipal, action: string, target: { type: 'node' | 'delivery-job'; id: string }): Promise<void> {
    // NODE_AUDIT=off exists only for bench:delivery to measure this row's cost; production refuses it.
    if (!this.config.delivery.auditNodeRequests) return;
    return this.audit.append({
      actorMemberId: node.operatorId,
      role: 'node',
      action,
      targetType: target.type,
      targetId: target.id,
      requestId: String(req.id).slice(0, 100),
      outcome: 'SUCCESS',
      httpStatus: 200,
    });
  }
}
