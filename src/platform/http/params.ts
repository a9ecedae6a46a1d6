import { DomainError } from '../errors/error-codes.js';
import { isValidIsoDate } from '../time/business-date.js';
import { isUuid } from './ids.js';

/** A path id that is not a UUID cannot name anything: 400 INVALID_ID, before any lookup. */
export function uuidParam(id: string, what: string): string {
  if (!isUuid(id)) throw new DomainError('INVALID_ID', `${what} id must be a UUID`);
  return id;
}

/** A business date given by a caller must be a real calendar date (YYYY-MM-DD). */
export function assertBusinessDate(value: string | undefined, field = 'businessDate'): void {
  if (value !== undefined && !isValidIsoDate(value))
    throw new DomainError('VALIDATION_FAILED', `${field} must be a calendar date YYYY-MM-DD`, [{ field, message: 'not a calendar date' }]);
}
