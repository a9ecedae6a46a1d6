import { Module } from '@nestjs/common';
import { MarketsModule } from '../markets/markets.module.js';
import { StreamAuth } from './stream-auth.js';
import { StreamGateway } from './stream.gateway.js';
import { StreamSnapshotsRepository } from './stream-snapshots.repository.js';
import { StreamSnapshots } from './stream-snapshots.service.js';
import { StreamsModule } from './streams.module.js';

/** The /v1/stream gateway; re-exports StreamsModule so the app root needs one import. */
@Module({
  imports: [StreamsModule, MarketsModule],
  providers: [StreamAuth, StreamSnapshotsRepository, StreamSnapshots, StreamGateway],
  exports: [StreamsModule],
})
export class StreamGatewayModule {}
