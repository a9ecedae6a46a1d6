import { Injectable } from '@nestjs/common';
import type { SettlementRun } from '../generated/prisma/client.js';
import { MarketsRepository } from '../markets/markets.repository.js';
import { decodeCursor, toPage, type Page } from '../platform/pagination/page.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { DailySettlementRepository } from './daily-settlement.repository.js';
import type { RunsQueryDto } from './dto/settlement.dto.js';
import type { SettlementRunView } from './settlement-run.view.js';
import { SettlementRunsRepository } from './settlement-runs.repository.js';
import { runView } from './settlement-views.js';

const CURSOR = /^\d{13}\|[0-9a-f-]{36}$/;
const DAY_MS = 24 * 3_600_000;

/** Reading settlement runs: pages of runs, one run, and how the API shows them. */
@Injectable()
export class SettlementRunsService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly runs: SettlementRunsRepository,
    private readonly coverage: DailySettlementRepository,
    private readonly markets: MarketsRepository,
  ) {}

  /** Runs of a business date (or created in the last 24 hours), newest first, one page. */
  async page(q: RunsQueryDto): Promise<Page<SettlementRunView>> {
    const limit = q.limit ?? 50;
    const after = decodeCursor(q.cursor, CURSOR);
    const [ms, id] = after ? after.split('|') : [];
    const rows = await this.runs.page(this.tx.root, {
      businessDate: q.businessDate,
      since: new Date(Date.now() - DAY_MS),
      after: after ? { createdAt: new Date(Number(ms)), id } : undefined,
      limit: limit + 1,
    });
    const page = toPage(
      rows,
      limit,
      (r) => `${String(r.createdAt.getTime()).padStart(13, '0')}|${r.id}`,
      (r) => r,
    );
    return { items: await this.views(page.items), nextCursor: page.nextCursor };
  }

  /** The console's overview: the newest runs of the last 24 hours (a glance, not a list to page). */
  list(): Promise<SettlementRun[]> {
    return this.runs.page(this.tx.root, { since: new Date(Date.now() - DAY_MS), limit: 200 });
  }

  /**
   * Runs as the API shows them: a DAILY run names its series from its coverage rows (its code
   * when it settles one, else null and how many), the others from their series.
   */
  async views(runs: SettlementRun[]): Promise<SettlementRunView[]> {
    const coverage = await this.coverage.coverage(
      this.tx.root,
      runs.filter((r) => r.type === 'DAILY').map((r) => r.id),
    );
    const codes = await this.markets.seriesCodes(
      this.tx.root,
      runs.flatMap((r) => (r.type !== 'DAILY' && r.seriesId ? [r.seriesId] : [])),
    );
    return runs.map((r) => {
      if (r.type !== 'DAILY') return runView(r, codes.get(r.seriesId!) ?? r.seriesId, 1);
      const c = coverage.get(r.id) ?? { count: 0, code: '' };
      return runView(r, c.count === 1 ? c.code : null, c.count);
    });
  }

  get(id: string): Promise<SettlementRun | null> {
    return this.runs.find(this.tx.root, id);
  }

  /** The codes of the series a run settles: a DAILY run's set, or its one series. */
  async seriesCodes(run: SettlementRun, view: SettlementRunView): Promise<(string | null)[]> {
    return run.type === 'DAILY' ? this.coverage.seriesCodes(this.tx.root, run.id) : [view.series];
  }
}
