import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// 32 random bytes, base64url; the prefix (tck_ for API keys, tcn_ for node tokens) makes
// leaked secrets easy to grep for in logs and repositories.
export function generateSecret(prefix: 'tck_' | 'tcn_'): string {
  return prefix + randomBytes(32).toString('base64url');
}

export function generateApiKey(): string {
  return generateSecret('tck_');
}

/** Keys are high-entropy, so a plain SHA-256 is a sufficient one-way hash (no KDF needed). */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

export function parseBearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer ([A-Za-z0-9_-]{16,256})$/.exec(header.trim());
  return match?.[1];
}
