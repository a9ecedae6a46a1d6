import { Module } from '@nestjs/common';
import { CapacityModule } from '../capacity/capacity.module.js';
import { LedgerModule } from '../ledger/ledger.module.js';
import { MembersModule } from '../members/members.module.js';
import { StreamsModule } from '../streams/streams.module.js';
import { BlockTradesService } from './block-trades.service.js';
import { ListingCache } from './listing-cache.js';
import { ListingsRepository } from './listings.repository.js';
import { ListingsService } from './listings.service.js';
import { MarginService } from './margin.service.js';
import { MarketDataRepository } from './market-data.repository.js';
import { MarketDataService } from './market-data.service.js';
import { MarketStreamRepository } from './market-stream.repository.js';
import { MarketStream } from './market-stream.service.js';
import { MarketsController } from './markets.controller.js';
import { MarketsRepository } from './markets.repository.js';
import { OrderBatcher } from './order-batcher.js';
import { OrderBatchRepository } from './order-batch.repository.js';
import { OrdersService } from './orders.service.js';
import { LargeTradersRepository } from './large-traders.repository.js';
import { LargeTradersService } from './large-traders.service.js';
import { PortfolioRepository } from './portfolio.repository.js';

@Module({
  imports: [LedgerModule, CapacityModule, MembersModule, StreamsModule],
  controllers: [MarketsController],
  providers: [
    MarketsRepository,
    ListingsRepository,
    MarketDataRepository,
    ListingCache,
    MarginService,
    OrdersService,
    OrderBatchRepository,
    OrderBatcher,
    ListingsService,
    BlockTradesService,
    MarketDataService,
    LargeTradersRepository,
    LargeTradersService,
    PortfolioRepository,
    MarketStreamRepository,
    MarketStream,
  ],
  exports: [MarketsRepository, ListingCache, MarginService, OrdersService, MarketDataService, BlockTradesService],
})
export class MarketsModule {}
