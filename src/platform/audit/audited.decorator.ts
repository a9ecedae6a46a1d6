import { SetMetadata } from '@nestjs/common';

export const AUDIT_META = 'tc:audit';

export interface AuditMeta {
  action: string;
  targetType: string;
}

/** Names the audit action of a state-changing route (e.g. `member.create`). */
export const Audited = (action: string, targetType: string): MethodDecorator =>
  SetMetadata(AUDIT_META, { action, targetType } satisfies AuditMeta);

export const AUDIT_SKIP = 'tc:audit-skip';

/**
 * For high-frequency telemetry (node heartbeats) whose latest state lives on its own row: auditing
 * each call would grow the append-only table without bound. Failures are still audited.
 */
export const NotAudited = (): MethodDecorator => SetMetadata(AUDIT_SKIP, true);
