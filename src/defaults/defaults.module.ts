import { Module } from '@nestjs/common';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { LedgerModule } from '../ledger/ledger.module.js';
import { MarketsModule } from '../markets/markets.module.js';
import { BuyInService } from './buy-in.service.js';
import { CloseOutService } from './close-out.service.js';
import { DefaultsController } from './defaults.controller.js';
import { DefaultsRepository } from './defaults.repository.js';
import { DefaultsService } from './defaults.service.js';
import { GuaranteeService } from './guarantee.service.js';
import { StandbyRepository } from './standby.repository.js';

/** Member default (SPEC §6.4): guarantee fund, CCP capital, declaration, auction, waterfall, buy-in. */
@Module({
  imports: [LedgerModule, MarketsModule, DeliveryModule],
  controllers: [DefaultsController],
  providers: [DefaultsRepository, StandbyRepository, GuaranteeService, DefaultsService, CloseOutService, BuyInService],
  exports: [BuyInService],
})
export class DefaultsModule {}
