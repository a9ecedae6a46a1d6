import { Module } from '@nestjs/common';
import { BankAccountsController } from './bank-accounts.controller.js';
import { BankAccountsRepository } from './bank-accounts.repository.js';
import { BankAccountsService } from './bank-accounts.service.js';

/** Members' bank accounts; depends on nothing but the platform, so the ledger can ask who a payout goes to. */
@Module({
  controllers: [BankAccountsController],
  providers: [BankAccountsService, BankAccountsRepository],
  exports: [BankAccountsService, BankAccountsRepository],
})
export class BankAccountsModule {}
