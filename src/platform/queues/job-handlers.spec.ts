import { Injectable } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import { JobHandler } from './job-handler.decorator.js';
import { JobHandlers } from './job-handlers.js';
import type { JobPayloads } from './job-registry.js';

@Injectable()
class PurgeHandler {
  calls: unknown[] = [];
  @JobHandler('maintenance.purge-idempotency')
  async purge(p: JobPayloads['maintenance.purge-idempotency']): Promise<string> {
    this.calls.push(p);
    return 'done';
  }
  @JobHandler('maintenance.partitions-ahead')
  async partitionsAhead(): Promise<void> {}
}

@Injectable()
class SweepHandler {
  @JobHandler('capacity.sweep-offline')
  async sweep(): Promise<void> {}
}

@Injectable()
class SeriesLifecycle {
  @JobHandler('markets.series-open')
  async open(): Promise<void> {}
  @JobHandler('markets.series-halt')
  async halt(): Promise<void> {}
}

@Injectable()
class SettlementJobs {
  @JobHandler('settlement.run')
  async run(): Promise<void> {}
  @JobHandler('settlement.eod')
  async eod(): Promise<void> {}
  @JobHandler('settlement.scheduled-run')
  async scheduled(): Promise<void> {}
  @JobHandler('settlement.close-covered-calls')
  async closeCovered(): Promise<void> {}
}

@Injectable()
class DeliveryJobs {
  @JobHandler('delivery.dispatch')
  async dispatch(): Promise<void> {}
  @JobHandler('delivery.dispatch-batch')
  async dispatchBatch(): Promise<void> {}
  @JobHandler('delivery.webhook')
  async webhook(): Promise<void> {}
  @JobHandler('delivery.return-leases')
  async returnLeases(): Promise<void> {}
  @JobHandler('delivery.verification-create')
  async verificationCreate(): Promise<void> {}
  @JobHandler('delivery.verification-judge')
  async verificationJudge(): Promise<void> {}
  @JobHandler('reconciliation.run')
  async recon(): Promise<void> {}
  @JobHandler('indices.fixing')
  async fixing(): Promise<void> {}
  @JobHandler('markets.resume-series')
  async resume(): Promise<void> {}
  @JobHandler('settlement.intraday-mark')
  async intradayMark(): Promise<void> {}
  @JobHandler('defaults.close-auction')
  async closeAuction(): Promise<void> {}
  @JobHandler('defaults.auto-propose')
  async autoPropose(): Promise<void> {}
}

@Injectable()
class SecondPurgeHandler {
  @JobHandler('maintenance.purge-idempotency')
  async purge(): Promise<void> {}
}

async function boot(providers: (new (...args: never[]) => unknown)[]) {
  const moduleRef = await Test.createTestingModule({ imports: [DiscoveryModule], providers: [JobHandlers, ...providers] }).compile();
  await moduleRef.init();
  return moduleRef;
}

describe('JobHandlers (the boot-time registry check)', () => {
  it('refuses to boot when a registered job has no handler', async () => {
    await expect(boot([])).rejects.toThrow(/job maintenance.purge-idempotency has no @JobHandler/);
    await expect(boot([PurgeHandler])).rejects.toThrow(/job capacity.sweep-offline has no @JobHandler/);
  });

  it('refuses to boot when a job has two handlers', async () => {
    await expect(boot([PurgeHandler, SecondPurgeHandler, SweepHandler, SeriesLifecycle, SettlementJobs, DeliveryJobs])).rejects.toThrow(
      /has two handlers/,
    );
  });

  it('dispatches a job to its one handler', async () => {
    const moduleRef = await boot([PurgeHandler, SweepHandler, SeriesLifecycle, SettlementJobs, DeliveryJobs]);
    const result = await moduleRef.get(JobHandlers).run('maintenance.purge-idempotency', { retentionHours: 1 }, { jobId: 'j', attempt: 1 });
    expect(result).toBe('done');
    expect(moduleRef.get(PurgeHandler).calls).toEqual([{ retentionHours: 1 }]);
    await moduleRef.close();
  });
});
