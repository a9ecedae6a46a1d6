import { Injectable } from '@nestjs/common';
import { ApiKeyRepository } from '../platform/auth/api-key.repository.js';
import { hashApiKey, hashesEqual } from '../platform/auth/api-key.js';
import type { Principal } from '../platform/http/request-context.js';
import { StreamError } from './stream-events.js';

export interface StreamCredential {
  principal: Principal;
  /** Kept (never the key) so an open connection can be checked again after revocation. */
  hash: string;
}

/** The REST guard's key check (api-key.guard.ts) for sockets: same lookup, same refusals. */
@Injectable()
export class StreamAuth {
  constructor(private readonly keys: ApiKeyRepository) {}

  /** Throws StreamError UNAUTHENTICATED, API_KEY_REVOKED or MEMBER_SUSPENDED. */
  authenticate(key: string): Promise<StreamCredential> {
    return this.check(hashApiKey(key), true);
  }

  /** Run at every heartbeat: a key revoked (or member suspended) while connected loses the stream. */
  recheck(hash: string): Promise<StreamCredential> {
    return this.check(hash, false);
  }

  private async check(hash: string, touch: boolean): Promise<StreamCredential> {
    const credential = await this.keys.findByHash(hash);
    if (!credential || !hashesEqual(credential.hash, hash)) throw new StreamError('UNAUTHENTICATED', 'Unknown API key');
    if (credential.revokedAt) throw new StreamError('API_KEY_REVOKED', 'API key has been revoked');
    if (credential.memberStatus === 'SUSPENDED') throw new StreamError('MEMBER_SUSPENDED', 'Member is suspended');
    // lastUsedAt is a hint; a failed write must not refuse a valid key.
    if (touch) await this.keys.touch(credential).catch(() => undefined);
    return {
      hash,
      principal: { memberId: credential.memberId, memberKind: credential.memberKind, role: credential.role, keyId: credential.keyId },
    };
  }
}
