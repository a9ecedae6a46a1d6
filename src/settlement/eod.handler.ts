import { Injectable, Logger } from '@nestjs/common';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import { addDays } from '../platform/time/business-date.js';
import { Clock } from '../platform/time/clock.js';
import { DailyRunStarts } from './daily-run-starts.service.js';

/** Fired by the repeatable job at EOD_CUTOFF (Asia/Shanghai): a DAILY run per series that traded. */
@Injectable()
export class EodHandler {
  private readonly logger = new Logger(EodHandler.name);

  constructor(
    private readonly runs: DailyRunStarts,
    private readonly clock: Clock,
  ) {}

  @JobHandler('settlement.eod')
  async endOfDay(): Promise<{ businessDate: string; runs: number }> {
    // At the cut-off the clock's business date has just moved on; the day to settle is the one before.
    const day = addDays(this.clock.businessDate(), -1);
    const runs = await this.runs.startAll(day);
    this.logger.log({ businessDate: day, runs: runs.length }, 'end of day: daily settlement runs started');
    return { businessDate: day, runs: runs.length };
  }
}
