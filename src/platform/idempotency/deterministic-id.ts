import { createHash } from 'node:crypto';

/**
 * The id of a row created by a request that carries an Idempotency-Key, derived from the member
 * and the key. If the process dies after the business transaction commits but before the stored
 * response does, the retry (allowed after the claim's lease) computes the same id, collides with
 * the committed row, and answers with it instead of creating a second one.
 */
export function idForRequest(scope: string, memberId: string, idempotencyKey: string | undefined): string | undefined {
  if (!idempotencyKey) return undefined;
  const h = createHash('sha256').update(`${scope}\u0000${memberId}\u0000${idempotencyKey}`).digest('hex');
  // Shaped as an RFC 4122 version-8 ("custom") UUID so it fits uuid columns and URLs.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
