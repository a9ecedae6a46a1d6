import { Module } from '@nestjs/common';
import { StreamPublisher } from './stream-publisher.js';

/**
 * What other domains import to publish on /v1/stream: StreamPublisher only, and no domain
 * imports of its own, so markets, delivery and settlement can import it without a cycle
 * (the gateway, which reads their services for snapshots, lives in StreamGatewayModule).
 */
@Module({
  providers: [StreamPublisher],
  exports: [StreamPublisher],
})
export class StreamsModule {}
