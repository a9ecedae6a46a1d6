import { Inject, Injectable, Logger } from '@nestjs/common';
import type { SettlementRun } from '../generated/prisma/client.js';
import { HOUSE } from '../ledger/ledger.types.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import type { Tx } from '../platform/prisma/prisma.service.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { addDays } from '../platform/time/business-date.js';
import { Clock } from '../platform/time/clock.js';
import { endOfBusinessDay, transfersChecksum } from './domain/settlement-math.js';
import { MarginCallsRepository } from './margin-calls.repository.js';
import { MaintenanceMarginService, type RunMargin } from './maintenance-margin.service.js';
import { SettlementRunsRepository } from './settlement-runs.repository.js';
import { SettlementSeriesRepository } from './settlement-series.repository.js';
import { SettlementRepository } from './settlement.repository.js';

export interface PostedTransfer {
  key: string;
  debit: string;
  credit: string;
  amountFen: bigint;
}

/**
 * The end of every settlement run, in the caller's transaction: the run's VM must sum to zero;
 * calls whose members' cash is covered again close, members left with negative cash get a margin
 * call; the run is COMPLETED with the checksum and totals of what it posted; a reconciliation
 * follows; an expired series moves on.
 */
@Injectable()
export class RunCompletionService {
  private readonly logger = new Logger(RunCompletionService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly runs: SettlementRunsRepository,
    private readonly transfers: SettlementRepository,
    private readonly series: SettlementSeriesRepository,
    private readonly marginCalls: MarginCallsRepository,
    private readonly outbox: OutboxService,
    private readonly clock: Clock,
    private readonly maintenance: MaintenanceMarginService,
  ) {}

  /** A chunked run (EXPIRY, DELIVERY_CLOSE) completes from what the ledger holds of it, in a transaction of its own. */
  async finish(run: SettlementRun, day: string): Promise<{ status: string; checksum: string }> {
    const rows = await this.transfers.runTransfers(this.tx.root, run.id);
    const checksum = await this.tx.run((tx) => this.complete(tx, run, rows, day));
    this.outbox.poke();
    return { status: 'COMPLETED', checksum };
  }

  /** `margin`: a DAILY run's margin after it, for the maintenance check. */
  async complete(tx: Tx, run: SettlementRun, rows: PostedTransfer[], day: string, margin?: RunMargin): Promise<string> {
    const vmNet = rows
      .filter((r) => r.key.includes('.vm.'))
      .reduce((s, r) => s + (r.credit === HOUSE.ccpSettlement ? r.amountFen : -r.amountFen), 0n);
    // Per series the trade legs cancel pairwise and Σ net positions is zero, so a run's VM sums to
    // zero; anything else means positions disagree with trades, and the run must not complete.
    if (vmNet !== 0n) throw new Error(`variation margin of the run does not sum to zero (${vmNet} fen): positions disagree with trades`);
    const checksum = transfersChecksum(rows);
    const members = [
      ...new Set(
        rows
          .flatMap((r) => [r.debit, r.credit])
          .filter((c) => c.startsWith('member:'))
          .map((c) => c.split(':')[1]),
      ),
    ];
    // Money moved for every member of the run (and margin may have come back to others since the
    // last run): close what is covered now, so no read ever has to.
    await this.marginCalls.closeCovered(tx);
    if ((await this.marginCalls.countForRun(tx, run.id)) === 0) {
      await this.marginCalls.openForNegativeCash(tx, members, run.id, day, endOfBusinessDay(addDays(day, 1), this.config.eodCutoff));
      // Negative cash is a VARIATION call already; the others are checked against maintenance.
      if (run.type === 'DAILY')
        await this.maintenance.afterDailyRun(tx, members, run.id, await this.marginCalls.negativeCash(tx, members), margin);
    }
    await this.runs.update(tx, run.id, {
      status: 'COMPLETED',
      phase: 'FINAL',
      checksum,
      transferCount: rows.length,
      totalMovedFen: rows.reduce((s, r) => s + r.amountFen, 0n),
      finishedAt: this.clock.now(),
      totalItems: run.processedItems,
    });
    await this.outbox.enqueue(tx, 'reconciliation.run', { settlementRunId: run.id }, { jobId: `recon-after-${run.id}` });
    if (run.type !== 'DAILY') {
      // A physical series with obligations is IN_DELIVERY until its window closes.
      const open = run.type === 'EXPIRY' ? await this.series.openObligations(tx, run.seriesId!) : 0;
      await this.series.setStatus(tx, run.seriesId!, open > 0 ? 'IN_DELIVERY' : 'SETTLED');
    }
    this.logger.log({ run: run.id, transfers: rows.length, checksum }, 'settlement run completed');
    return checksum;
  }
}
