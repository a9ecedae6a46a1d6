import { DomainError, type ErrorCode } from '../platform/errors/error-codes.js';
import type { Principal } from '../platform/http/request-context.js';

/** The person behind a clearing principal; a clearing key without one is a defect, refused. */
export function personOf(p: Principal): string {
  if (!p.staffId) throw new DomainError('FORBIDDEN_ROLE', 'this action needs a clearing key that belongs to a person');
  return p.staffId;
}

/**
 * Four eyes (SPEC §6.2): the checker must be a different *person* from the maker — two keys of
 * one person are one pair of eyes. `makerStaffId` null (a proposal from before staff existed,
 * whose key had no person) is decided by key instead.
 */
export function assertSecondPerson(checker: Principal, maker: { staffId: string | null; keyId?: string | null }, code: ErrorCode): void {
  const person = personOf(checker);
  if (maker.staffId ? maker.staffId === person : maker.keyId === checker.keyId) throw new DomainError(code);
}
