import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { BullBoardModule } from '@bull-board/nestjs';
import { Module, type DynamicModule } from '@nestjs/common';
import { CapacityModule } from './capacity/capacity.module.js';
import { ConsoleModule } from './console/console.module.js';
import { IndicesModule } from './indices/indices.module.js';
import { DefaultsModule } from './defaults/defaults.module.js';
import { DeliveryModule } from './delivery/delivery.module.js';
import { LedgerModule } from './ledger/ledger.module.js';
import { PaymentsModule } from './payments/payments.module.js';
import { ReconciliationModule } from './reconciliation/reconciliation.module.js';
import { MarketsModule } from './markets/markets.module.js';
import { SettlementModule } from './settlement/settlement.module.js';
import { StreamGatewayModule } from './streams/stream-gateway.module.js';
import { MembersModule } from './members/members.module.js';
import { StaffModule } from './staff/staff.module.js';
import { TraceModule } from './trace/trace.module.js';
import { ApiKeyRepository } from './platform/auth/api-key.repository.js';
import { clearingKeyMiddleware } from './platform/auth/clearing-basic.middleware.js';
import type { AppConfig } from './platform/config/config.js';
import { PlatformModule } from './platform/platform.module.js';
import { QUEUE_NAMES } from './platform/queues/job-registry.js';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot(config),
        BullBoardModule.forRootAsync({
          useFactory: (keys: ApiKeyRepository) => ({
            route: '/admin/queues',
            adapter: ExpressAdapter,
            middleware: clearingKeyMiddleware(keys),
          }),
          inject: [ApiKeyRepository],
        }),
        BullBoardModule.forFeature(...QUEUE_NAMES.map((name) => ({ name, adapter: BullMQAdapter }))),
        LedgerModule,
        CapacityModule,
        MarketsModule,
        SettlementModule,
        DeliveryModule,
        TraceModule,
        ReconciliationModule,
        PaymentsModule,
        ConsoleModule,
        IndicesModule,
        MembersModule,
        StaffModule,
        StreamGatewayModule,
        DefaultsModule,
      ],
    };
  }
}
