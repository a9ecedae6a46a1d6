import { Injectable } from '@nestjs/common';
import { Subject } from 'rxjs';

export interface NodeWentOffline {
  nodeId: string;
  operatorId: string;
  at: Date;
}

/**
 * In-process capacity events. The node's status in Postgres is the record; these only let other
 * modules (delivery: re-dispatch leased jobs) react at once instead of on their next poll.
 */
@Injectable()
export class CapacityEvents {
  readonly nodeOffline = new Subject<NodeWentOffline>();
  /**
   * An agent's heartbeat arrived: delivery extends the leases it names (the jobs the agent is
   * working on), or every lease of the node when it names none.
   */
  readonly heartbeat = new Subject<{ nodeId: string; leases?: string[] }>();
}
