import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ApiRole } from '../../generated/prisma/enums.js';
import { DomainError } from '../errors/error-codes.js';
import type { TcRequest } from '../http/request-context.js';
import { ApiKeyRepository } from './api-key.repository.js';
import { hashApiKey, hashesEqual, parseBearer } from './api-key.js';
import { ALLOWED_ROLES, PUBLIC_ROUTE } from './auth.decorators.js';

/** Global guard: every route needs a valid key unless marked @Public(). */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeyRepository,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;

    const req = ctx.switchToHttp().getRequest<TcRequest>();
    const key = parseBearer(req.header('authorization'));
    if (!key) throw new DomainError('UNAUTHENTICATED', 'Send Authorization: Bearer <api key>');
    const hash = hashApiKey(key);
    const credential = await this.keys.findByHash(hash);
    // The lookup is by hash; the constant-time compare keeps the check itself timing-neutral.
    if (!credential || !hashesEqual(credential.hash, hash)) {
      throw new DomainError('UNAUTHENTICATED', 'Unknown API key');
    }
    if (credential.revokedAt) throw new DomainError('API_KEY_REVOKED');
    if (credential.memberStatus === 'SUSPENDED') throw new DomainError('MEMBER_SUSPENDED');

    req.principal = {
      memberId: credential.memberId,
      memberKind: credential.memberKind,
      role: credential.role,
      keyId: credential.keyId,
      ...(credential.staffId ? { staffId: credential.staffId } : {}),
    };
    await this.keys.touch(credential);

    const allowed = this.reflector.getAllAndOverride<ApiRole[] | undefined>(ALLOWED_ROLES, targets);
    if (allowed && !allowed.includes(credential.role)) {
      throw new DomainError('FORBIDDEN_ROLE', `Requires role ${allowed.join(' or ')}`);
    }
    return true;
  }
}
