/**
 * The SQLSTATE and message of a statement Postgres refused, however it was sent: straight on the
 * pg driver (the error itself) or through Prisma's `$queryRaw` (wrapped as P2010 with the
 * driver adapter's cause).
 */
export function postgresError(err: unknown): { code: string; message: string } | undefined {
  const e = err as {
    code?: unknown;
    message?: unknown;
    meta?: { driverAdapterError?: { cause?: { originalCode?: unknown; originalMessage?: unknown } } };
  } | null;
  if (!e || typeof e !== 'object') return undefined;
  const cause = e.meta?.driverAdapterError?.cause;
  if (e.code === 'P2010' && typeof cause?.originalCode === 'string')
    return { code: cause.originalCode, message: typeof cause.originalMessage === 'string' ? cause.originalMessage : '' };
  if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.message === 'string')
    return { code: e.code, message: e.message };
  return undefined;
}
