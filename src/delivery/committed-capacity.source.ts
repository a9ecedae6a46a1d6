import { Injectable, type OnModuleInit } from '@nestjs/common';
import { CapacityViewService } from '../capacity/capacity-view.service.js';
import { committedKey, type CommittedCapacitySource } from '../capacity/committed-capacity.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { DeliveryRepository } from './delivery.repository.js';

/** Tokens/s that open obligations still need, shown by GET /v1/capacity as committed. */
@Injectable()
export class OpenObligationsCapacity implements CommittedCapacitySource, OnModuleInit {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: DeliveryRepository,
    private readonly view: CapacityViewService,
  ) {}

  onModuleInit(): void {
    this.view.useCommittedSource(this);
  }

  async committedTokensPerSecond(filter: { modelClass?: string; region?: string }): Promise<Map<string, bigint>> {
    const rows = await this.repo.committed(this.tx.root);
    return new Map(
      rows
        .filter((r) => (!filter.modelClass || r.modelClass === filter.modelClass) && (!filter.region || r.region === filter.region))
        .map((r) => [committedKey(r.modelClass, r.region), r.tokensPerSecond]),
    );
  }
}
