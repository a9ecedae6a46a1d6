import { Inject, Injectable, Logger } from '@nestjs/common';
import type { TokenIndexFixing } from '../generated/prisma/client.js';
import { MarketsRepository } from '../markets/markets.repository.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { addDays } from '../platform/time/business-date.js';
import { Clock } from '../platform/time/clock.js';
import { endOfBusinessDay } from '../settlement/domain/settlement-math.js';
import { nextLink } from './chain.js';
import { computeFixing } from './domain/fixing.js';
import { IndicesRepository, type NewFixing } from './indices.repository.js';

export interface FixingOutcome {
  indexCode: string;
  businessDate: string;
  /** The original fixing of the date (published now or before); null when nothing could fix it. */
  fixing: TokenIndexFixing | null;
  created: boolean;
}

/**
 * The daily fixing of a token index (docs/index-methodology.md): reads the ended business day's
 * prints, applies the pure rules, and publishes the original fixing of the date, chained under the
 * index's lock. Idempotent: a date already fixed answers its fixing unchanged.
 */
@Injectable()
export class IndexFixingService {
  private readonly logger = new Logger(IndexFixingService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly repo: IndicesRepository,
    private readonly clock: Clock,
    private readonly markets: MarketsRepository,
  ) {}

  /** The business date that ended last (the day a cut-off job fixes). */
  lastEndedDate(): string {
    return addDays(this.clock.businessDate(), -1);
  }

  async fix(indexCode: string, businessDate: string = this.lastEndedDate()): Promise<FixingOutcome> {
    const index = await this.repo.index(this.tx.root, indexCode);
    if (!index) throw new DomainError('NOT_FOUND', `index ${indexCode} not found`);
    if (businessDate >= this.clock.businessDate())
      throw new DomainError(
        'BUSINESS_DAY_NOT_ENDED',
        `${businessDate} ends at ${endOfBusinessDay(businessDate, this.config.eodCutoff).toISOString()}`,
      );
    const dayStart = endOfBusinessDay(addDays(businessDate, -1), this.config.eodCutoff);
    const dayEnd = endOfBusinessDay(businessDate, this.config.eodCutoff);
    return this.tx.run(async (tx) => {
      await this.repo.lockIndex(tx, indexCode);
      const existing = await this.repo.original(tx, indexCode, businessDate);
      if (existing) return { indexCode, businessDate, fixing: existing, created: false };
      // A match that began before the cut-off may still be committing a trade of the day: wait for
      // the class's matching locks (as a daily run does), so every trade of the date is seen.
      await this.markets.lockSeriesMany(tx, await this.repo.classSeriesIds(tx, index.modelClass));
      const trades = await this.repo.trades(tx, index.modelClass, businessDate, dayEnd);
      const deliveries = await this.repo.deliveries(tx, index.modelClass, dayStart, dayEnd);
      const previous = await this.repo.effectiveBefore(tx, indexCode, businessDate);
      const result = computeFixing({
        trades,
        deliveries,
        previous: previous ? { id: previous.id, priceFen: previous.priceFen } : undefined,
        minVolumeTokens: this.config.index.minVolumeTokens,
      });
      if (!result) {
        this.logger.warn({ index: indexCode, businessDate }, 'no prints and no previous fixing: nothing published');
        return { indexCode, businessDate, fixing: null, created: false };
      }
      const f: NewFixing = {
        indexCode,
        businessDate,
        priceFen: result.priceFen,
        method: result.method,
        volumeTokens: result.volumeTokens,
        // Only the keys that apply: what is hashed is what JSONB stores.
        inputs: {
          trades: result.inputs.trades,
          obligations: result.inputs.obligations,
          ...(result.inputs.previous ? { previous: result.inputs.previous } : {}),
        },
        correctsId: null,
        reason: null,
      };
      const fixing = await this.repo.insertPublished(tx, f, nextLink(await this.repo.chainHead(tx, indexCode), f), this.clock.now());
      this.logger.log(
        { index: indexCode, businessDate, price: fixing.priceFen.toString(), method: fixing.method },
        'index fixing published',
      );
      return { indexCode, businessDate, fixing, created: true };
    });
  }

  /** Every index for one ended date (the cut-off job). */
  async fixAll(businessDate: string = this.lastEndedDate()): Promise<FixingOutcome[]> {
    const out: FixingOutcome[] = [];
    for (const index of await this.repo.allIndices(this.tx.root)) out.push(await this.fix(index.code, businessDate));
    return out;
  }
}
