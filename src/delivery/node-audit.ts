import { Inject, Injectable } from '@nestjs/common';
import type { NodePrincipal } from '../capacity/node-token.guard.js';
import { AuditRepository, type AuditEntry } from '../platform/audit/audit.repository.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import type { TcRequest } from '../platform/http/request-context.js';

/**
 * Node agents' state changes in the audit trail (SPEC §6.2: every state change, node leases and
 * completions included). The node routes are @NotAudited for the generic interceptor, which knows
 * only API-key principals; they record here instead: one row per lease request that took work
 * (an empty long-poll changes nothing and writes nothing), one per completion report (a batch is
 * one row naming the node, written in the transaction that commits the report's first
 * completion), one per single completion or failure naming the job. Rows go through the audit
 * repository (its group commit, or the caller's transaction), chained like every other event.
 */
@Injectable()
export class NodeAudit {
  constructor(
    private readonly audit: AuditRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async record(req: TcRequest, node: NodePrincipal, action: string, target: { type: 'node' | 'delivery-job'; id: string }): Promise<void> {
    const entry = this.entry(req, node, action, target);
    if (entry) await this.audit.append(entry);
  }

  /**
   * The row `record` would append, for a caller that writes it in its own transaction (a
   * completion report's, with the completions it covers); none when node requests are not audited.
   */
  entry(
    req: TcRequest,
    node: NodePrincipal,
    action: string,
    target: { type: 'node' | 'delivery-job'; id: string },
  ): AuditEntry | undefined {
    // NODE_AUDIT=off exists only for bench:delivery to measure this row's cost; production refuses it.
    if (!this.config.delivery.auditNodeRequests) return undefined;
    return {
      actorMemberId: node.operatorId,
      role: 'node',
      action,
      targetType: target.type,
      targetId: target.id,
      requestId: String(req.id).slice(0, 100),
      outcome: 'SUCCESS',
      httpStatus: 200,
    };
  }
}
