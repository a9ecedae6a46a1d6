import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { parseBearer } from '../auth/api-key.js';

export function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  return parseBearer(typeof header === 'string' ? header : undefined);
}

/** A credential's rate-limit identity: never the secret itself, which would then sit in Redis. */
export function credentialTracker(bearer: string): string {
  return createHash('sha256').update(bearer).digest('base64url').slice(0, 22);
}
