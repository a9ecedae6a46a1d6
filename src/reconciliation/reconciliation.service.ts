import { Injectable, Logger } from '@nestjs/common';
import type { ReconciliationRun } from '../generated/prisma/client.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import type { JobPayloads } from '../platform/queues/job-registry.js';
import { CHECK_NAMES, type Difference } from './checks.js';
import { ChecksRepository } from './checks.repository.js';
import { ReconciliationRepository } from './reconciliation.repository.js';

/**
 * Reconciliation: every check over the whole data, each difference a Break. A difference already
 * open is refreshed, not duplicated; an open break whose difference is gone is CLEARED.
 */
@Injectable()
export class ReconciliationService {
  private readonly logger = new Logger(ReconciliationService.name);

  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: ReconciliationRepository,
    private readonly checks: ChecksRepository,
  ) {}

  async run(
    trigger: 'MANUAL' | 'SETTLEMENT' | 'BANK_STATEMENT',
    requestedBy?: string,
    settlementRunId?: string,
  ): Promise<ReconciliationRun> {
    const run = await this.repo.createRun(this.tx.root, { trigger, requestedBy, settlementRunId });
    try {
      return await this.tx.run(
        async (tx) => {
          await this.repo.lockRuns(tx);
          const checks = [];
          const found: Difference[] = [];
          for (const name of CHECK_NAMES) {
            const t0 = performance.now();
            const result = await this.checks.run(tx, name);
            checks.push({
              name,
              rowsExamined: result.rowsExamined,
              ms: Math.round(performance.now() - t0),
              differences: result.differences.length,
            });
            found.push(...result.differences);
          }
          const open = await this.repo.openBreaks(tx);
          const keyOf = (x: { type: string; key: string }) => `${x.type}|${x.key}`;
          const openByKey = new Map(open.map((b) => [keyOf(b), b.id]));
          const seen = new Set(found.map(keyOf));
          const fresh = found.filter((d) => !openByKey.has(keyOf(d)));
          const still = found.filter((d) => openByKey.has(keyOf(d)));
          await this.repo.openBreaksFor(tx, run.id, fresh);
          await this.repo.refreshBreaks(
            tx,
            run.id,
            still.map((d) => ({ id: openByKey.get(keyOf(d))!, expected: d.expected, actual: d.actual, difference: d.difference })),
          );
          const opened = fresh.length;
          const gone = open.filter((b) => !seen.has(keyOf(b))).map((b) => b.id);
          await this.repo.clearBreaks(tx, gone);
          const finished = await this.repo.completeRun(tx, run.id, {
            checks,
            breaksOpened: opened,
            breaksCleared: gone.length,
            openBreaks: seen.size,
          });
          this.logger.log(
            { run: run.id, trigger, differences: found.length, opened, cleared: gone.length },
            'reconciliation run completed',
          );
          return finished;
        },
        { timeout: 300_000, jit: false },
      );
    } catch (err) {
      await this.repo.failRun(this.tx.root, run.id, (err as Error).message.slice(0, 2000));
      throw err;
    }
  }

  /** After each settlement run (outbox job from the settlement module). */
  @JobHandler('reconciliation.run')
  async afterSettlement({ settlementRunId }: JobPayloads['reconciliation.run']): Promise<{ runId: string | null }> {
    // An end of day finishes hundreds of runs at once: one reconciliation after the last covers all.
    if (await this.repo.runAfterSettlement(this.tx.root, settlementRunId)) return { runId: null };
    return { runId: (await this.run('SETTLEMENT', undefined, settlementRunId)).id };
  }

  async get(id: string): Promise<ReconciliationRun> {
    const run = await this.repo.findRun(this.tx.root, id);
    if (!run) throw new DomainError('NOT_FOUND', 'reconciliation run not found');
    return run;
  }
}
