import { Inject, Injectable, Logger } from '@nestjs/common';
import type { SettlementRun } from '../generated/prisma/client.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { HOUSE, memberAccount, type TransferRequest } from '../ledger/ledger.types.js';
import { multiplier } from '../markets/domain/contract-math.js';
import type { SeriesWithProduct } from '../markets/markets.repository.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { variationMarginFen } from './domain/settlement-math.js';
import { SettlementRunsRepository } from './settlement-runs.repository.js';
import { SettlementRepository, type VmInput } from './settlement.repository.js';

/**
 * The VM phase of an EXPIRY run: the last variation margin to the final price, in chunks of
 * members, each chunk one transaction that also saves the run's cursor (a crash resumes there).
 */
@Injectable()
export class ExpiryVariationMargin {
  private readonly logger = new Logger(ExpiryVariationMargin.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly inputs: SettlementRepository,
    private readonly runs: SettlementRunsRepository,
    private readonly ledger: LedgerService,
  ) {}

  async run(
    run: SettlementRun,
    series: SeriesWithProduct,
    day: string,
    priceFen: bigint,
    base: string,
    basis: { prevPriceFen: bigint; afterDaily: boolean },
  ): Promise<SettlementRun> {
    const mult = multiplier(series.product.contractSizeTokens);
    let cursor = run.cursorMemberId;
    for (;;) {
      const inputs = await this.inputs.vmInputs(this.tx.root, series.id, day, cursor, this.config.settlement.chunk);
      if (inputs.length === 0) break;
      const transfers: TransferRequest[] = [];
      for (const i of inputs) {
        const vm = vmOf(i, basis, priceFen, mult);
        if (vm === 0n) continue;
        const cash = memberAccount(i.memberId, 'CASH');
        transfers.push({
          idempotencyKey: `${base}.vm.${i.memberId}`,
          debit: vm > 0n ? HOUSE.ccpSettlement : cash,
          credit: vm > 0n ? cash : HOUSE.ccpSettlement,
          amountFen: vm > 0n ? vm : -vm,
          kind: 'VARIATION_MARGIN',
          businessDate: day,
          refs: { settlementRunId: run.id },
          collectByRight: true,
        });
      }
      cursor = inputs.at(-1)!.memberId;
      const id = run.id;
      const next = cursor;
      run = await this.tx.run(async (tx) => {
        await this.ledger.postBatch(tx, transfers);
        return this.runs.update(tx, id, { cursorMemberId: next, processedItems: { increment: inputs.length } });
      });
      this.logger.log({ run: run.id, phase: 'VM', processed: run.processedItems }, 'settlement progress');
    }
    return this.runs.update(this.tx.root, run.id, { phase: 'IM', cursorMemberId: null });
  }
}

/** After the day's DAILY run, the day's trades are already settled: only the price moves the position. */
function vmOf(i: VmInput, basis: { prevPriceFen: bigint; afterDaily: boolean }, priceFen: bigint, mult: bigint): bigint {
  return basis.afterDaily
    ? variationMarginFen({
        netStart: i.netEnd,
        netEnd: i.netEnd,
        prevPriceFen: basis.prevPriceFen,
        priceFen,
        todaysSignedCostFen: 0n,
        multiplier: mult,
      })
    : variationMarginFen({
        netStart: i.netStart,
        netEnd: i.netEnd,
        prevPriceFen: basis.prevPriceFen,
        priceFen,
        todaysSignedCostFen: i.todaysSignedCostFen,
        multiplier: mult,
      });
}
