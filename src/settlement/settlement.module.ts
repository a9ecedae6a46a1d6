import { Module } from '@nestjs/common';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { IndicesModule } from '../indices/indices.module.js';
import { LedgerModule } from '../ledger/ledger.module.js';
import { MarketsModule } from '../markets/markets.module.js';
import { DailyRunStarts } from './daily-run-starts.service.js';
import { DailySettlementRepository } from './daily-settlement.repository.js';
import { DailySettlementService } from './daily-settlement.service.js';
import { DeliveryCloseRunService } from './delivery-close-run.service.js';
import { EodHandler } from './eod.handler.js';
import { ExpiryMarginRelease } from './expiry-margin-release.service.js';
import { ExpiryRunService } from './expiry-run.service.js';
import { ExpiryVariationMargin } from './expiry-variation-margin.service.js';
import { FinalPriceService } from './final-price.service.js';
import { GuaranteeTopUp } from './guarantee-top-up.js';
import { GuaranteeTopUpRepository } from './guarantee-top-up.repository.js';
import { MarginCallsRepository } from './margin-calls.repository.js';
import { MarginCallsService } from './margin-calls.service.js';
import { MaintenanceMarginService } from './maintenance-margin.service.js';
import { RiskMarksRepository } from './risk-marks.repository.js';
import { PortfolioAdjustmentsService } from './portfolio-adjustments.service.js';
import { PriceFixingsService } from './price-fixings.service.js';
import { RunCompletionService } from './run-completion.service.js';
import { RunStartService } from './run-start.service.js';
import { ScheduledRunHandler } from './scheduled-run.handler.js';
import { SettlementPricesService } from './settlement-prices.service.js';
import { SettlementRunHandler } from './settlement-run.handler.js';
import { SettlementRunsRepository } from './settlement-runs.repository.js';
import { SettlementRunsService } from './settlement-runs.service.js';
import { SettlementSeriesRepository } from './settlement-series.repository.js';
import { SettlementController } from './settlement.controller.js';
import { SettlementRepository } from './settlement.repository.js';
import { StatementsRepository } from './statements.repository.js';
import { StatementsService } from './statements.service.js';
import { StreamsModule } from '../streams/streams.module.js';
import { SettlementStreamRepository } from './settlement-stream.repository.js';
import { SettlementStream } from './settlement-stream.service.js';

@Module({
  imports: [LedgerModule, MarketsModule, DeliveryModule, IndicesModule, StreamsModule],
  controllers: [SettlementController],
  providers: [
    SettlementStreamRepository,
    SettlementStream,
    SettlementRepository,
    SettlementRunsRepository,
    SettlementSeriesRepository,
    DailySettlementRepository,
    MarginCallsRepository,
    StatementsRepository,
    SettlementPricesService,
    PriceFixingsService,
    DailySettlementService,
    RunCompletionService,
    DailyRunStarts,
    RunStartService,
    FinalPriceService,
    ExpiryVariationMargin,
    ExpiryMarginRelease,
    ExpiryRunService,
    DeliveryCloseRunService,
    SettlementRunHandler,
    ScheduledRunHandler,
    SettlementRunsService,
    MarginCallsService,
    RiskMarksRepository,
    MaintenanceMarginService,
    PortfolioAdjustmentsService,
    EodHandler,
    StatementsService,
    GuaranteeTopUpRepository,
    GuaranteeTopUp,
  ],
  exports: [SettlementRunsService, DailySettlementRepository],
})
export class SettlementModule {}
