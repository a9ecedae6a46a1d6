import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// 32 random bytes, base64url; the prefix makes leaked keys easy to grep for in logs and repos.
const PREFIX = 'tck_';

export function generateApiKey(): string {
  return PREFIX + randomBytes(32).toString('base64url');
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
