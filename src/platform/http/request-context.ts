import type { Request } from 'express';
import type { ApiRole, MemberKind } from '../../generated/prisma/enums.js';

export interface Principal {
  memberId: string;
  memberKind: MemberKind;
  role: ApiRole;
  keyId: string;
  /** The person holding a clearing key (SPEC §6.2); absent for member keys. */
  staffId?: string;
}

export interface TcRequest extends Request {
  id: string;
  principal?: Principal;
  /** Set while this request owns an idempotency record. */
  idempotency?: { recordId: string; key: string };
  /** Set when the handler wrote its success audit event in its own transaction. */
  auditedInTransaction?: boolean;
}

export const MUTATING_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
