import { Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { CapacityViewService } from './capacity-view.service.js';
import { CapacityController } from './capacity.controller.js';
import { CapacityEvents } from './capacity.events.js';
import { CapacityRepository } from './capacity.repository.js';
import { CapacityService } from './capacity.service.js';
import { NodeSweepHandler } from './node-sweep.handler.js';
import { AnyNodeTokenGuard, NodeTokenGuard, NodeTokenPrefetch } from './node-token.guard.js';

@Module({
  controllers: [CapacityController],
  providers: [
    CapacityRepository,
    CapacityService,
    CapacityViewService,
    CapacityEvents,
    NodeSweepHandler,
    NodeTokenGuard,
    AnyNodeTokenGuard,
    NodeTokenPrefetch,
  ],
  exports: [CapacityViewService, CapacityEvents, CapacityRepository, NodeTokenGuard, AnyNodeTokenGuard, NodeTokenPrefetch, CapacityService],
})
export class CapacityModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(NodeTokenPrefetch).forRoutes(CapacityController);
  }
}
