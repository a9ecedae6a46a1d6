import { Injectable } from '@nestjs/common';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import { IndexFixingService } from './index-fixing.service.js';

/** Fired by the repeatable job at EOD_CUTOFF (Asia/Shanghai): fixes every index for the day that just ended. */
@Injectable()
export class IndexFixingHandler {
  constructor(private readonly fixings: IndexFixingService) {}

  @JobHandler('indices.fixing')
  async atCutoff(): Promise<{ businessDate: string; published: string[] }> {
    const businessDate = this.fixings.lastEndedDate();
    const outcomes = await this.fixings.fixAll(businessDate);
    return { businessDate, published: outcomes.filter((o) => o.fixing).map((o) => `${o.indexCode}:${o.fixing!.id}`) };
  }
}
