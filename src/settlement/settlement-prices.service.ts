import { Inject, Injectable } from '@nestjs/common';
import type { PriceMethod } from '../generated/prisma/enums.js';
import type { SeriesWithProduct } from '../markets/markets.repository.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import type { Db } from '../platform/prisma/prisma.service.js';
import { endOfBusinessDay, midFen, vwapFen } from './domain/settlement-math.js';
import { SettlementRepository } from './settlement.repository.js';

export interface DerivedPrice {
  priceFen: bigint;
  method: PriceMethod;
  details: Record<string, string | number>;
  /** The settlement price before this business date (or the listing's reference price). */
  previousFen: bigint;
  /** Already stored for this date (fixed by clearing staff, or by an earlier attempt). */
  stored: boolean;
}

/**
 * The day's settlement price: a price fixed by clearing staff; else the VWAP of the last N
 * minutes of the day's trades; else the mid of best bid and ask; else the previous settlement
 * price (or the listing's reference price). Stored with how it was derived. Derived for a whole
 * set of series in four statements, whatever its size.
 */
@Injectable()
export class SettlementPricesService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repo: SettlementRepository,
  ) {}

  async deriveMany(db: Db, series: SeriesWithProduct[], businessDate: string): Promise<Map<string, DerivedPrice>> {
    const ids = series.map((s) => s.id);
    const end = endOfBusinessDay(businessDate, this.config.eodCutoff);
    const start = new Date(end.getTime() - this.config.settlement.vwapMinutes * 60_000);
    const [stored, previous] = await Promise.all([
      this.repo.storedPrices(db, ids, businessDate),
      this.repo.previousPrices(db, ids, businessDate),
    ]);
    const open = ids.filter((id) => !stored.has(id));
    const [vwaps, quotes] =
      open.length === 0
        ? [new Map(), new Map()]
        : await Promise.all([this.repo.windowVwaps(db, open, businessDate, start, end), this.repo.bestBidAsks(db, open)]);
    const out = new Map<string, DerivedPrice>();
    for (const s of series) {
      const previousFen = previous.get(s.id) ?? s.referencePriceFen;
      const fixed = stored.get(s.id);
      if (fixed) {
        out.set(s.id, { ...fixed, previousFen, stored: true });
        continue;
      }
      const tick = s.product.tickFen;
      const totals = vwaps.get(s.id);
      const vwap = totals ? vwapFen(totals, tick) : undefined;
      const quote = quotes.get(s.id);
      if (vwap !== undefined) {
        out.set(s.id, {
          priceFen: vwap,
          method: 'VWAP',
          details: { from: start.toISOString(), to: end.toISOString(), minutes: this.config.settlement.vwapMinutes },
          previousFen,
          stored: false,
        });
      } else if (quote && quote.bid !== null && quote.ask !== null) {
        out.set(s.id, {
          priceFen: midFen(quote.bid, quote.ask, tick),
          method: 'MID',
          details: { bid: quote.bid.toString(), ask: quote.ask.toString() },
          previousFen,
          stored: false,
        });
      } else {
        out.set(s.id, {
          priceFen: previousFen,
          method: 'PREVIOUS',
          details: { source: previous.has(s.id) ? 'previous settlement price' : 'referencePrice' },
          previousFen,
          stored: false,
        });
      }
    }
    return out;
  }

  /** Stores the derived prices not stored yet, in one statement; a price already there stays. */
  async storeMany(db: Db, businessDate: string, prices: Map<string, DerivedPrice>): Promise<void> {
    const fresh = [...prices.entries()].filter(([, p]) => !p.stored);
    await this.repo.insertPrices(
      db,
      businessDate,
      fresh.map(([seriesId, p]) => ({ seriesId, priceFen: p.priceFen, method: p.method, details: p.details })),
    );
  }
}
