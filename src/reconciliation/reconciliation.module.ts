import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module.js';
import { StaffModule } from '../staff/staff.module.js';
import { AdjustmentsRepository } from './adjustments.repository.js';
import { AdjustmentsService } from './adjustments.service.js';
import { AuditTrailService } from './audit-trail.service.js';
import { BreaksService } from './breaks.service.js';
import { ChecksRepository } from './checks.repository.js';
import { MonthArchiveController } from './month-archive.controller.js';
import { MonthArchiveRepository } from './month-archive.repository.js';
import { MonthArchiveService } from './month-archive.service.js';
import { ReconciliationController } from './reconciliation.controller.js';
import { ReconciliationRepository } from './reconciliation.repository.js';
import { ReconciliationService } from './reconciliation.service.js';

@Module({
  imports: [LedgerModule, StaffModule],
  controllers: [ReconciliationController, MonthArchiveController],
  providers: [
    ReconciliationService,
    BreaksService,
    AdjustmentsService,
    AuditTrailService,
    ReconciliationRepository,
    AdjustmentsRepository,
    ChecksRepository,
    MonthArchiveService,
    MonthArchiveRepository,
  ],
  exports: [ReconciliationService],
})
export class ReconciliationModule {}
