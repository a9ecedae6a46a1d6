import { TokenCounter } from './counting/token-counter.js';
import { NodeAudit } from './node-audit.js';
import { JobStream } from './job-stream.js';
import { Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { StreamsModule } from '../streams/streams.module.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { EgressPolicy } from '../platform/egress/egress-policy.js';
import { CapacityModule } from '../capacity/capacity.module.js';
import { NodeTokenPrefetch } from '../capacity/node-token.guard.js';
import { LedgerModule } from '../ledger/ledger.module.js';
import { MarketsModule } from '../markets/markets.module.js';
import { AllocationService } from './allocation.service.js';
import { OpenObligationsCapacity } from './committed-capacity.source.js';
import { DeliveryJobsService } from './delivery-jobs.service.js';
import { DeliveryReaper } from './delivery-reaper.js';
import { DeliveryController } from './delivery.controller.js';
import { DeliveryJobsRepository } from './delivery-jobs.repository.js';
import { JobEventsRepository } from './job-events.repository.js';
import { DeliveryRepository } from './delivery.repository.js';
import { ObligationsRepository } from './obligations.repository.js';
import { WebhooksRepository } from './webhooks.repository.js';
import { DispatchService } from './dispatch.service.js';
import { JobFailures } from './job-failures.js';
import { JobBatchRepository } from './job-batch.repository.js';
import { SubmissionBatcher } from './submission-batcher.js';
import { LeaseService } from './lease.service.js';
import { MeteringService } from './metering.service.js';
import { NodeQueues } from './node-queues.js';
import { WebhooksService } from './webhooks.service.js';
import { WindowCloseService } from './window-close.service.js';
import { VerificationRepository } from './verification.repository.js';
import { VerificationService } from './verification.service.js';

@Module({
  imports: [StreamsModule, LedgerModule, MarketsModule, CapacityModule],
  controllers: [DeliveryController],
  providers: [
    DeliveryRepository,
    DeliveryJobsRepository,
    JobEventsRepository,
    ObligationsRepository,
    WebhooksRepository,
    JobBatchRepository,
    SubmissionBatcher,
    NodeQueues,
    JobFailures,
    AllocationService,
    WindowCloseService,
    DeliveryJobsService,
    DispatchService,
    LeaseService,
    MeteringService,
    DeliveryReaper,
    WebhooksService,
    OpenObligationsCapacity,
    TokenCounter,
    NodeAudit,
    JobStream,
    VerificationRepository,
    VerificationService,
    { provide: EgressPolicy, useFactory: (c: AppConfig) => new EgressPolicy(c.webhooks.allowHosts), inject: [APP_CONFIG] },
  ],
  exports: [AllocationService, WindowCloseService, DeliveryReaper, LeaseService, ObligationsRepository],
})
export class DeliveryModule implements NestModule {
  /** The node routes' token lookups start as requests arrive (NodeTokenPrefetch). */
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(NodeTokenPrefetch).forRoutes(DeliveryController);
  }
}
