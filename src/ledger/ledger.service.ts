import { Injectable } from '@nestjs/common';
import { DomainError } from '../platform/errors/error-codes.js';
import { MAX_FEN } from '../platform/money/money.js';
import type { RawSql } from '../platform/prisma/prisma.service.js';
import { isValidIsoDate } from '../platform/time/business-date.js';
import { LedgerRepository } from './ledger.repository.js';
import type { BatchResult, PostedTransfer, TransferRequest } from './ledger.types.js';

const CHUNK = 20_000;

/**
 * The only writer of money. Every posting runs inside the caller's transaction, so business
 * rows (a trade, a withdrawal, an obligation) and their transfers commit or vanish together.
 */
@Injectable()
export class LedgerService {
  constructor(private readonly repo: LedgerRepository) {}

  /** Posts a few transfers atomically; a replayed key returns the original transfer, moving nothing. */
  async post(tx: RawSql, requests: TransferRequest[]): Promise<PostedTransfer[]> {
    await this.apply(tx, requests);
    return this.repo.findByKeys(
      tx,
      requests.map((r) => r.idempotencyKey),
    );
  }

  /**
   * Posts many thousands of transfers in a few set-based statements (settlement runs). Returns
   * counts rather than rows; `onProgress` is told after each chunk.
   */
  async postBatch(tx: RawSql, requests: TransferRequest[], onProgress?: (done: number, total: number) => void): Promise<BatchResult> {
    const inserted = await this.apply(tx, requests, onProgress);
    return { requested: requests.length, inserted, replayed: requests.length - inserted };
  }

  private async apply(tx: RawSql, requests: TransferRequest[], onProgress?: (done: number, total: number) => void): Promise<number> {
    if (requests.length === 0) return 0;
    validate(requests);
    if (requests.length > CHUNK) {
      // All locks up front, in one order, when the batch is applied in chunks (each chunk's
      // statement then finds its accounts already locked, and refuses an unknown one).
      await this.repo.lockAccountsByCode(tx, [...new Set(requests.flatMap((r) => [r.debit, r.credit]))]);
    }

    let inserted = 0;
    for (let i = 0; i < requests.length; i += CHUNK) {
      const chunk = requests.slice(i, i + CHUNK);
      // A refusal (INSUFFICIENT_FUNDS, ACCOUNT_NOT_FOUND) fails the statement and is thrown.
      inserted += (await this.repo.insertAndApply(tx, chunk)).inserted;
      onProgress?.(Math.min(i + CHUNK, requests.length), requests.length);
    }
    if (inserted < requests.length) await this.assertReplaysMatch(tx, requests);
    return inserted;
  }

  /** A key seen before must describe the same movement; otherwise it is a caller bug, not a replay. */
  private async assertReplaysMatch(tx: RawSql, requests: TransferRequest[]): Promise<void> {
    const existing = new Map(
      (
        await this.repo.findByKeys(
          tx,
          requests.map((r) => r.idempotencyKey),
        )
      ).map((t) => [t.idempotencyKey, t]),
    );
    for (const r of requests) {
      const t = existing.get(r.idempotencyKey);
      if (!t || t.debit !== r.debit || t.credit !== r.credit || t.amountFen !== r.amountFen || t.kind !== r.kind) {
        throw new DomainError('TRANSFER_KEY_CONFLICT', `transfer key ${r.idempotencyKey} was used for a different transfer`);
      }
    }
  }
}

function validate(requests: TransferRequest[]): void {
  const seen = new Set<string>();
  // A batch carries one or two business dates: each distinct one is checked once.
  const goodDates = new Set<string>();
  for (const r of requests) {
    // Programming errors of a calling module, not user input: fail loudly.
    if (!r.idempotencyKey || r.idempotencyKey.length > 300) throw new Error(`bad transfer key ${r.idempotencyKey}`);
    if (seen.has(r.idempotencyKey)) throw new Error(`transfer key ${r.idempotencyKey} twice in one posting`);
    seen.add(r.idempotencyKey);
    if (r.amountFen <= 0n || r.amountFen > MAX_FEN) throw new Error(`transfer ${r.idempotencyKey}: amount ${r.amountFen} out of range`);
    if (r.debit === r.credit) throw new Error(`transfer ${r.idempotencyKey}: debit and credit are both ${r.debit}`);
    if (!goodDates.has(r.businessDate)) {
      if (!isValidIsoDate(r.businessDate)) throw new Error(`transfer ${r.idempotencyKey}: bad business date ${r.businessDate}`);
      goodDates.add(r.businessDate);
    }
  }
}
