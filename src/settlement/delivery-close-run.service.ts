import { Injectable } from '@nestjs/common';
import type { SettlementRun } from '../generated/prisma/client.js';
import { WindowCloseService } from '../delivery/window-close.service.js';
import type { SeriesWithProduct } from '../markets/markets.repository.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { RunCompletionService } from './run-completion.service.js';
import { SettlementRunsRepository } from './settlement-runs.repository.js';

/** A DELIVERY_CLOSE run: unfinished jobs fail, each obligation's remainder is paid out or refunded. */
@Injectable()
export class DeliveryCloseRunService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly runs: SettlementRunsRepository,
    private readonly windowClose: WindowCloseService,
    private readonly completion: RunCompletionService,
  ) {}

  async execute(run: SettlementRun, series: SeriesWithProduct, day: string, base: string): Promise<{ status: string; checksum: string }> {
    if (run.phase === 'CLOSE') {
      const id = run.id;
      run = await this.tx.run(
        async (tx) => {
          const { closed } = await this.windowClose.close(tx, { runId: id, series, businessDate: day, base });
          return this.runs.update(tx, id, { phase: 'FINAL', processedItems: closed, totalItems: closed });
        },
        { timeout: 120_000 },
      );
    }
    return this.completion.finish(run, day);
  }
}
