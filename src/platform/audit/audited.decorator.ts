import { SetMetadata } from '@nestjs/common';

export const AUDIT_META = 'tc:audit';

export interface AuditMeta {
  action: string;
  targetType: string;
}

/** Names the audit action of a state-changing route (e.g. `member.create`). */
export const Audited = (action: string, targetType: string): MethodDecorator =>
  SetMetadata(AUDIT_META, { action, targetType } satisfies AuditMeta);
