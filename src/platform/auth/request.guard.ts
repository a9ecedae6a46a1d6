import type { CanActivate, ExecutionContext } from '@nestjs/common';
import type { ThrottlerGuard } from '@nestjs/throttler';
import type { ApiKeyGuard } from './api-key.guard.js';

/**
 * The one global guard: the API key check and each rate limit at the same time, answered in
 * that order (401/403 before 429). Run one after another they were three waits in series (the
 * key's lookup in Postgres, then each throttler's counter in Redis), each a full turn of a busy
 * event loop — 40–60 ms of a submission's 180 under bench:delivery's load. Each throttler has a
 * guard of its own (the library's, configured with that throttler alone) so their counters go to
 * Redis together. A request with a bad key is counted against its address and bearer too, so
 * guessing keys is rate-limited like anything else.
 */
export class RequestGuard implements CanActivate {
  constructor(
    private readonly apiKey: ApiKeyGuard,
    private readonly throttlers: readonly ThrottlerGuard[],
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const checks = await Promise.allSettled([this.apiKey.canActivate(ctx), ...this.throttlers.map((t) => t.canActivate(ctx))]);
    const refused = checks.find((c) => c.status === 'rejected');
    if (refused) throw refused.reason;
    return checks.every((c) => (c as PromiseFulfilledResult<boolean>).value);
  }
}
