import { Module } from '@nestjs/common';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { LedgerModule } from '../ledger/ledger.module.js';
import { MarketsModule } from '../markets/markets.module.js';
import { DailySettlementRepository } from './daily-settlement.repository.js';
import { DailySettlementService } from './daily-settlement.service.js';
import { EodHandler } from './eod.handler.js';
import { RunCompletionService } from './run-completion.service.js';
import { MarginCallsService } from './margin-calls.service.js';
import { SettlementPricesService } from './settlement-prices.service.js';
import { SettlementRunsService } from './settlement-runs.service.js';
import { SettlementController } from './settlement.controller.js';
import { SettlementRepository } from './settlement.repository.js';
import { StatementsService } from './statements.service.js';

@Module({
  imports: [LedgerModule, MarketsModule, DeliveryModule],
  controllers: [SettlementController],
  providers: [
    SettlementRepository,
    SettlementPricesService,
    DailySettlementRepository,
    DailySettlementService,
    RunCompletionService,
    SettlementRunsService,
    MarginCallsService,
    EodHandler,
    StatementsService,
  ],
  exports: [SettlementRunsService, DailySettlementRepository],
})
export class SettlementModule {}
