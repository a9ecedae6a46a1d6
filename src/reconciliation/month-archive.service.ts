import { Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../platform/errors/error-codes.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { Clock } from '../platform/time/clock.js';
import { type ArchiveMismatch, MonthArchiveRepository, monthTables } from './month-archive.repository.js';
import { ReconciliationService } from './reconciliation.service.js';

export interface ArchiveCheck {
  month: string;
  rowsExamined: number;
  /** True when the archive re-derives exactly what was recorded when it was archived. */
  reconciled: boolean;
  mismatches: ArchiveMismatch[];
}

/**
 * Archiving a month (SPEC §6 scale-out): its partitions of transfers, usage records and audit
 * events leave the live tables once the month is closed, the oldest live one and reconciled;
 * the live checks then carry its recorded totals forward, and `check` reconciles the month from
 * the archive alone.
 */
@Injectable()
export class MonthArchiveService {
  private readonly logger = new Logger(MonthArchiveService.name);

  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: MonthArchiveRepository,
    private readonly recon: ReconciliationService,
    private readonly clock: Clock,
  ) {}

  async archive(month: string, requestedBy?: string): Promise<ArchiveCheck> {
    const t = monthTables(month);
    const refuse = (why: string) => new DomainError('MONTH_NOT_ARCHIVABLE', `${month}: ${why}`);
    if (t.month >= `${this.clock.now().toISOString().slice(0, 7)}-01`) throw refuse('only a month that has ended can be archived');
    if (await this.repo.isArchived(this.tx.root, month)) throw refuse('already archived');
    // The audit chain stays one chain: the live part must start where the archive ends.
    if (await this.repo.liveRowsBefore(this.tx.root, t.month)) throw refuse('an older month is still live: archive it first');
    if (!(await this.repo.hasPartitions(this.tx.root, t)))
      throw refuse('no partition of its own (its rows, if any, are in a DEFAULT partition)');
    const run = await this.recon.run('MANUAL', requestedBy);
    if (run.openBreaks > 0) throw refuse(`the reconciliation run ${run.id} found ${run.openBreaks} differences`);
    await this.tx.run((tx) => this.repo.archive(tx, t), { timeout: 300_000 });
    const check = await this.check(month);
    this.logger.log({ month, rows: check.rowsExamined, reconciled: check.reconciled }, 'month archived');
    return check;
  }

  async check(month: string): Promise<ArchiveCheck> {
    if (!(await this.repo.isArchived(this.tx.root, month))) throw new DomainError('NOT_FOUND', `${month} is not archived`);
    const { rowsExamined, mismatches } = await this.repo.mismatches(this.tx.root, monthTables(month));
    return { month, rowsExamined, reconciled: mismatches.length === 0, mismatches };
  }
}
