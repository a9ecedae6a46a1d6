import { DomainError } from '../errors/error-codes.js';
import type { Principal } from '../http/request-context.js';

// The one place member scoping is decided. Another member's resource answers 404, never 403,
// so callers cannot probe which ids exist.

/** The member id a query must be filtered by, or undefined for clearing staff (all members). */
export function memberScope(principal: Principal): string | undefined {
  return principal.role === 'clearing' ? undefined : principal.memberId;
}

export function assertCanSee(principal: Principal, ownerMemberId: string | null | undefined, what: string): void {
  if (principal.role === 'clearing') return;
  if (ownerMemberId !== principal.memberId) throw new DomainError('NOT_FOUND', `${what} not found`);
}

/** Loads a resource and applies assertCanSee in one step, so handlers cannot forget either. */
export async function loadOwned<T>(
  principal: Principal,
  what: string,
  load: () => Promise<T | null>,
  ownerOf: (row: T) => string | null,
): Promise<T> {
  const row = await load();
  if (!row) throw new DomainError('NOT_FOUND', `${what} not found`);
  assertCanSee(principal, ownerOf(row), what);
  return row;
}
