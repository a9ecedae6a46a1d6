import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { PrismaService } from '../platform/prisma/prisma.service.js';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import { addDays } from '../platform/time/business-date.js';
import { Clock } from '../platform/time/clock.js';
import { endOfBusinessDay } from './domain/settlement-math.js';
import { SettlementRunsService } from './settlement-runs.service.js';

/** Fired by the repeatable job at EOD_CUTOFF (Asia/Shanghai): a DAILY run per series that traded. */
@Injectable()
export class EodHandler {
  private readonly logger = new Logger(EodHandler.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly runs: SettlementRunsService,
    private readonly clock: Clock,
  ) {}

  @JobHandler('settlement.eod')
  async endOfDay(): Promise<{ businessDate: string; runs: number }> {
    // At the cut-off the clock's business date has just moved on; the day to settle is the one before.
    const day = addDays(this.clock.businessDate(), -1);
    const series = await this.prisma.series.findMany({
      where: { status: { in: ['LISTED', 'TRADING'] }, tradingStartAt: { lte: endOfBusinessDay(day, this.config.eodCutoff) } },
      select: { code: true },
    });
    for (const s of series) await this.runs.start('DAILY', s.code, day);
    this.logger.log({ businessDate: day, runs: series.length }, 'end of day: daily settlement runs started');
    return { businessDate: day, runs: series.length };
  }
}
