import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import { CapacityEvents } from './capacity.events.js';
import { CapacityRepository } from './capacity.repository.js';

/** Repeatable job: nodes silent past the configured time go OFFLINE (each reported once). */
@Injectable()
export class NodeSweepHandler {
  private readonly logger = new Logger(NodeSweepHandler.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repo: CapacityRepository,
    private readonly events: CapacityEvents,
  ) {}

  @JobHandler('capacity.sweep-offline')
  async sweep(): Promise<{ offline: number }> {
    const gone = await this.repo.sweepSilent(this.config.capacity.offlineAfterMs);
    const at = new Date();
    for (const node of gone) {
      this.logger.warn({ nodeId: node.id, operatorId: node.operatorId }, 'node silent: marked OFFLINE');
      this.events.nodeOffline.next({ nodeId: node.id, operatorId: node.operatorId, at });
    }
    return { offline: gone.length };
  }
}
