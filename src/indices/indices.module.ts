import { Module } from '@nestjs/common';
import { MarketsModule } from '../markets/markets.module.js';
import { IndexCorrectionsService } from './index-corrections.service.js';
import { IndexFixingHandler } from './index-fixing.handler.js';
import { IndexFixingService } from './index-fixing.service.js';
import { IndexQueriesService } from './index-queries.service.js';
import { IndicesController } from './indices.controller.js';
import { IndicesRepository } from './indices.repository.js';

/** The token indices: daily fixings, corrections, public reads. Reads markets' records (and waits on their matching locks) for the fixing. */
@Module({
  imports: [MarketsModule],
  controllers: [IndicesController],
  providers: [IndicesRepository, IndexFixingService, IndexCorrectionsService, IndexQueriesService, IndexFixingHandler],
  exports: [IndexQueriesService],
})
export class IndicesModule {}
