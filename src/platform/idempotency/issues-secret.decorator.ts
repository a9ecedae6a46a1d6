import { SetMetadata } from '@nestjs/common';

export const ISSUES_SECRET = 'tc:issues-secret';

/**
 * The route's response carries a secret shown once (an API key, a node token, a webhook secret).
 * Its idempotency record keeps no copy: a replay answers 409 SECRET_ALREADY_ISSUED naming the
 * resource (`resource` and the response's `id`) instead of the secret.
 */
export const IssuesSecret = (resource: string) => SetMetadata(ISSUES_SECRET, resource);
