import { postgresError } from '../prisma/postgres-error.js';

/** SQLSTATE a batch's write raises when the rows it judged unlocked changed meanwhile. */
export const RACED = 'TCR01';

/**
 * How a group-committed batch takes its row locks. Optimistic by default: it reads unlocked and
 * its write checks nothing moved (SQLSTATE TCR01 otherwise), so the locks are held only for the
 * last round trip. Once a batch raced — another process writes the same rows, as when several
 * copies of the service run — it locks up front for a while: retrying races would cost more.
 */
export class LockMode {
  private until = 0;

  constructor(private readonly holdMs = 30_000) {}

  get lockFirst(): boolean {
    return Date.now() < this.until;
  }

  /** A batch could not commit; if it raced, lock up front from now on (for a while). */
  failed(err: unknown): void {
    if (postgresError(err)?.code === RACED) this.until = Date.now() + this.holdMs;
  }
}
