import type { NextFunction, Request, Response } from 'express';
import { DomainError } from '../errors/error-codes.js';
import { toProblem } from '../errors/problem.js';
import { hashApiKey, parseBearer } from './api-key.js';
import type { ApiKeyRepository } from './api-key.repository.js';

/**
 * Guards non-Nest routes (Bull Board) with a clearing key: `Authorization: Bearer <key>`, or
 * HTTP Basic with the key as password so a browser can sign in.
 */
export function clearingKeyMiddleware(keys: ApiKeyRepository) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const header = req.header('authorization');
    let key = parseBearer(header);
    if (!key && header?.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
      key = decoded.slice(decoded.indexOf(':') + 1);
    }
    const credential = key ? await keys.findByHash(hashApiKey(key)).catch(() => null) : null;
    if (credential && !credential.revokedAt && credential.role === 'clearing' && credential.memberStatus === 'ACTIVE') {
      next();
      return;
    }
    const problem = toProblem(new DomainError(credential ? 'FORBIDDEN_ROLE' : 'UNAUTHENTICATED', 'Bull Board needs a clearing key'));
    res
      .status(problem.status)
      .setHeader('WWW-Authenticate', 'Basic realm="TokenClear queues (clearing key as password)"')
      .type('application/problem+json')
      .send(JSON.stringify({ ...problem, instance: req.originalUrl }));
  };
}
