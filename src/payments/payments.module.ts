import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module.js';
import { ReconciliationModule } from '../reconciliation/reconciliation.module.js';
import { BankAccountsModule } from './bank-accounts.module.js';
import { PaymentStatusRepository } from './payment-status.repository.js';
import { PaymentStatusService } from './payment-status.service.js';
import { PaymentsController } from './payments.controller.js';
import { PaymentsRepository } from './payments.repository.js';
import { PaymentsService } from './payments.service.js';

@Module({
  imports: [LedgerModule, ReconciliationModule, BankAccountsModule],
  controllers: [PaymentsController],
  providers: [PaymentsService, PaymentsRepository, PaymentStatusService, PaymentStatusRepository],
})
export class PaymentsModule {}
