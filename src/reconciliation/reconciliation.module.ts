import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module.js';
import { StaffModule } from '../staff/staff.module.js';
import { AdjustmentsRepository } from './adjustments.repository.js';
import { AdjustmentsService } from './adjustments.service.js';
import { AuditTrailService } from './audit-trail.service.js';
import { BreaksService } from './breaks.service.js';
import { ChecksRepository } from './checks.repository.js';
import { ReconciliationController } from './reconciliation.controller.js';
import { ReconciliationRepository } from './reconciliation.repository.js';
import { ReconciliationService } from './reconciliation.service.js';

@Module({
  imports: [LedgerModule, StaffModule],
  controllers: [ReconciliationController],
  providers: [
    ReconciliationService,
    BreaksService,
    AdjustmentsService,
    AuditTrailService,
    ReconciliationRepository,
    AdjustmentsRepository,
    ChecksRepository,
  ],
  exports: [ReconciliationService],
})
export class ReconciliationModule {}
