import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module.js';
import { AdjustmentsService } from './adjustments.service.js';
import { BreaksService } from './breaks.service.js';
import { ReconciliationController } from './reconciliation.controller.js';
import { ReconciliationService } from './reconciliation.service.js';

@Module({
  imports: [LedgerModule],
  controllers: [ReconciliationController],
  providers: [ReconciliationService, BreaksService, AdjustmentsService],
  exports: [ReconciliationService],
})
export class ReconciliationModule {}
