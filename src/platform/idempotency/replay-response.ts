import type { StoredResponse } from './idempotency.repository.js';

/** Thrown to short-circuit a handler; the exception filter writes the stored bytes back. */
export class ReplayResponse extends Error {
  constructor(readonly response: StoredResponse) {
    super('idempotent replay');
    this.name = 'ReplayResponse';
  }
}
