import { Injectable, Logger } from '@nestjs/common';
import { LedgerService } from '../ledger/ledger.service.js';
import { HOUSE, memberAccount, type TransferRequest } from '../ledger/ledger.types.js';
import { notionalFen } from '../markets/domain/contract-math.js';
import type { SeriesWithProduct } from '../markets/markets.repository.js';
import { basisPoints } from '../platform/money/money.js';
import type { Tx } from '../platform/prisma/prisma.service.js';
import { DeliveryRepository } from './delivery.repository.js';
import { ObligationsRepository } from './obligations.repository.js';
import { allocate } from './domain/allocation.js';

export interface ExpiryContext {
  runId: string;
  series: SeriesWithProduct;
  priceFen: bigint;
  businessDate: string;
  /** Prefix of the run's transfer keys. */
  base: string;
}

/**
 * The physical part of an EXPIRY run, after the final VM and the release of initial margin:
 * trader close-outs (penalty), delivery allocation into obligations, and the buyers' payment into
 * escrow (DvP). All in the caller's one transaction, so a crash leaves either nothing or all of it.
 */
@Injectable()
export class AllocationService {
  private readonly logger = new Logger(AllocationService.name);

  constructor(
    private readonly repo: DeliveryRepository,
    private readonly obligations: ObligationsRepository,
    private readonly ledger: LedgerService,
  ) {}

  async allocateAndFund(tx: Tx, ctx: ExpiryContext): Promise<{ obligations: number }> {
    const { series, priceFen, businessDate, base } = ctx;
    const existing = await this.obligations.countForSeries(tx, series.id);
    if (existing > 0) return { obligations: existing };
    const size = series.product.contractSizeTokens;
    const positions = await this.repo.netPositions(tx, series.id);
    const transfers: TransferRequest[] = [];

    // Traders may not take delivery: what they still hold is closed at the final price (which the
    // final VM has already paid), with the product's penalty on its notional.
    for (const p of positions.filter((p) => p.kind === 'TRADER')) {
      const penalty = basisPoints(notionalFen(priceFen, Math.abs(p.net), size), series.product.penaltyBp, 'against-member');
      if (penalty > 0n) {
        transfers.push({
          idempotencyKey: `${base}.closeout.${p.memberId}`,
          debit: memberAccount(p.memberId, 'CASH'),
          credit: HOUSE.ccpPenalties,
          amountFen: penalty,
          kind: 'PENALTY',
          businessDate,
          refs: { settlementRunId: ctx.runId },
          reference: `trader position of ${p.net} closed at expiry`,
          collectByRight: true,
        });
      }
    }

    const deliverers = positions.filter((p) => p.kind !== 'TRADER');
    const allocation = allocate(
      deliverers.filter((p) => p.net > 0).map((p) => ({ memberId: p.memberId, contracts: p.net, since: p.firstLongAt ?? new Date(0) })),
      deliverers.filter((p) => p.net < 0).map((p) => ({ memberId: p.memberId, contracts: -p.net })),
    );
    const rows = allocation.pairings.map((a) => ({
      seriesId: series.id,
      seq: a.seq,
      sellerId: a.sellerId,
      buyerId: a.buyerId,
      contracts: a.contracts,
      tokens: BigInt(a.contracts) * size,
      priceFen,
      notionalFen: notionalFen(priceFen, a.contracts, size),
      status: 'FUNDING' as const,
    }));
    await this.obligations.createMany(tx, rows);
    const created = await this.obligations.forSeries(tx, series.id);

    // DvP: the buyer pays the notional into its own escrow now, by right (cash may go negative:
    // that is a margin call, and the obligation waits in FUNDING until the buyer's cash recovers).
    for (const o of created) {
      if (o.notionalFen === 0n) continue;
      transfers.push({
        idempotencyKey: `${base}.escrow.${o.seq}`,
        debit: memberAccount(o.buyerId, 'CASH'),
        credit: memberAccount(o.buyerId, 'ESCROW'),
        amountFen: o.notionalFen,
        kind: 'ESCROW_FUND',
        businessDate,
        refs: { settlementRunId: ctx.runId, obligationId: o.id },
        collectByRight: true,
      });
    }
    await this.ledger.postBatch(tx, transfers);
    await this.repo.activateFunded(tx);
    this.logger.log(
      {
        series: series.code,
        obligations: created.length,
        unpairedLongs: allocation.unpairedLongs.length,
        unpairedShorts: allocation.unpairedShorts.length,
      },
      'delivery allocated',
    );
    return { obligations: created.length };
  }
}
