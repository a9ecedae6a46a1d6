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
  /** An agent's heartbeat arrived (delivery extends the node's leases on it). */
  readonly heartbeat = new Subject<{ nodeId: string }>();
}
