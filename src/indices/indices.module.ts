import { Module } from '@nestjs/common';
import { IndexCorrectionsService } from './index-corrections.service.js';
import { IndexFixingHandler } from './index-fixing.handler.js';
import { IndexFixingService } from './index-fixing.service.js';
import { IndexQueriesService } from './index-queries.service.js';
import { IndicesController } from './indices.controller.js';
import { IndicesRepository } from './indices.repository.js';

/** The token indices: daily fixings, corrections, public reads. Depends on no other domain module. */
@Module({
  controllers: [IndicesController],
  providers: [IndicesRepository, IndexFixingService, IndexCorrectionsService, IndexQueriesService, IndexFixingHandler],
  exports: [IndexQueriesService],
})
export class IndicesModule {}
