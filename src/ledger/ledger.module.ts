import { Module } from '@nestjs/common';
import { BankAccountsModule } from '../payments/bank-accounts.module.js';
import { CashService } from './cash.service.js';
import { LedgerQueries } from './ledger-queries.service.js';
import { LedgerController } from './ledger.controller.js';
import { LedgerEvents } from './ledger.events.js';
import { LedgerRepository } from './ledger.repository.js';
import { LedgerService } from './ledger.service.js';
import { WithdrawalsRepository } from './withdrawals.repository.js';

@Module({
  imports: [BankAccountsModule],
  controllers: [LedgerController],
  providers: [LedgerRepository, LedgerService, CashService, LedgerQueries, LedgerEvents, WithdrawalsRepository],
  exports: [LedgerService, LedgerRepository, LedgerQueries, LedgerEvents, CashService],
})
export class LedgerModule {}
