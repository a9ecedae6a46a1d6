import { Injectable } from '@nestjs/common';
import type { TokenIndexFixing } from '../generated/prisma/client.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { decodeCursor, encodeCursor, toPage, type Page } from '../platform/pagination/page.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { isoDate } from '../platform/time/business-date.js';
import type { IndexFixingStaffView, IndexFixingView, TokenIndexView } from './index-fixing.view.js';
import { METHODOLOGY_PATH, fixingView, staffView } from './index-views.js';
import { IndicesRepository } from './indices.repository.js';

const CURSOR = /^\d{4}-\d{2}-\d{2}\|\d{1,19}$/;

/** The effective fixing a settlement uses: the last correction published for the date, else the original. */
export interface EffectiveFixing {
  id: string;
  indexCode: string;
  businessDate: string;
  priceFen: bigint;
  method: string;
  hash: string | null;
}

/** Reads of the indices: the public lists, and the effective fixing other domains settle on. */
@Injectable()
export class IndexQueriesService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: IndicesRepository,
  ) {}

  async indices(cursor: string | undefined, limit: number): Promise<Page<TokenIndexView>> {
    const rows = await this.repo.indices(this.tx.root, decodeCursor(cursor, /^[A-Za-z0-9-]{1,32}$/), limit);
    const items: TokenIndexView[] = [];
    for (const index of rows.slice(0, limit)) {
      const latest = await this.repo.effectiveBefore(this.tx.root, index.code);
      items.push({
        code: index.code,
        modelClass: index.modelClass,
        currency: 'CNY',
        latest: latest ? (await this.views([latest]))[0] : null,
        methodology: METHODOLOGY_PATH,
      });
    }
    return { items, nextCursor: rows.length > limit ? encodeCursor(rows[limit - 1].code) : null };
  }

  async fixings(code: string, q: { from?: string; to?: string; cursor?: string; limit: number }): Promise<Page<IndexFixingView>> {
    if (!(await this.repo.index(this.tx.root, code))) throw new DomainError('NOT_FOUND', `index ${code} not found`);
    if (q.from && q.to && q.from > q.to)
      throw new DomainError('VALIDATION_FAILED', 'from is after to', [{ field: 'from', message: 'after to' }]);
    const key = decodeCursor(q.cursor, CURSOR);
    const [date, seq] = key ? key.split('|') : [];
    const rows = await this.repo.publishedPage(this.tx.root, code, {
      from: q.from,
      to: q.to,
      after: key ? { businessDate: date, chainSeq: BigInt(seq) } : undefined,
      limit: q.limit + 1,
    });
    const page = toPage(
      rows,
      q.limit,
      (r) => `${isoDate(r.businessDate)}|${r.chainSeq}`,
      (r) => r,
    );
    return { items: await this.views(page.items), nextCursor: page.nextCursor };
  }

  async views(rows: TokenIndexFixing[]): Promise<IndexFixingView[]> {
    const links = await this.repo.linksOf(this.tx.root, rows);
    return rows.map((r) => fixingView(r, links));
  }

  async staffViews(rows: TokenIndexFixing[]): Promise<IndexFixingStaffView[]> {
    const links = await this.repo.linksOf(this.tx.root, rows);
    return rows.map((r) => staffView(r, links));
  }

  async effectiveOn(indexCode: string, businessDate: string): Promise<EffectiveFixing | null> {
    const f = await this.repo.effectiveOn(this.tx.root, indexCode, businessDate);
    return f ? { id: f.id, indexCode, businessDate: isoDate(f.businessDate), priceFen: f.priceFen, method: f.method, hash: f.hash } : null;
  }
}
