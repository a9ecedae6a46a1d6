import { Injectable } from '@nestjs/common';
import { DomainError } from '../platform/errors/error-codes.js';
import { loadOwned } from '../platform/auth/ownership.js';
import type { Principal } from '../platform/http/request-context.js';
import { decodeCursor, encodeCursor } from '../platform/pagination/page.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { chain, headHash, type TraceLink } from './domain/trace-chain.js';
import { traceEntries, tracedObligation } from './trace.repository.js';

export interface TracePage {
  obligationId: string;
  status: string;
  /** The head hash sealed when the obligation closed (null while it is open). */
  sealedHash: string | null;
  /** The head hash of the chain as it stands now: equals sealedHash unless something changed after close. */
  headHash: string;
  links: number;
  items: TraceLink[];
  nextCursor: string | null;
}

/**
 * GET /v1/obligations/:id/trace. Paging: the chain is computed whole (one read of the obligation's
 * trades, jobs with their usage records, and transfers — the head hash needs all of it) and
 * handed out `limit` links at a time; the cursor is the position of the next link, and a page's
 * first link carries the previous page's last hash as its prevHash, so pages verify in sequence.
 */
@Injectable()
export class TraceService {
  constructor(private readonly tx: TransactionRunner) {}

  async trace(p: Principal, id: string, q: { limit: number; cursor?: string }): Promise<TracePage> {
    const o = await loadOwned(
      p,
      'obligation',
      () => tracedObligation(this.tx.root, id),
      (r) => (p.memberId === r.sellerId ? r.sellerId : r.buyerId),
    );
    const links = chain(await traceEntries(this.tx.root, o.id));
    const from = Number(decodeCursor(q.cursor, /^\d{1,9}$/) ?? '0');
    if (from > links.length) throw new DomainError('VALIDATION_FAILED', 'Invalid cursor', [{ field: 'cursor', message: 'past the end' }]);
    const to = Math.min(links.length, from + q.limit);
    return {
      obligationId: o.id,
      status: o.status,
      sealedHash: o.traceHash,
      headHash: headHash(links),
      links: links.length,
      items: links.slice(from, to),
      nextCursor: to < links.length ? encodeCursor(String(to)) : null,
    };
  }
}
