import { Injectable, Logger } from '@nestjs/common';
import { LedgerService } from '../ledger/ledger.service.js';
import { memberAccount, type TransferRequest } from '../ledger/ledger.types.js';
import type { SeriesWithProduct } from '../markets/markets.repository.js';
import type { Tx } from '../platform/prisma/prisma.service.js';
import { DeliveryJobsRepository } from './delivery-jobs.repository.js';
import { DeliveryRepository } from './delivery.repository.js';
import { ObligationsRepository } from './obligations.repository.js';
import { closeObligation } from './domain/metering.js';
import { JobFailures } from './job-failures.js';
import { chain, headHash } from '../trace/domain/trace-chain.js';
import { sealTraces, traceEntries } from '../trace/trace.repository.js';
import { VerificationRepository } from './verification.repository.js';

/**
 * The DELIVERY_CLOSE run's work, in the caller's one transaction: jobs still unfinished at the end
 * of the window fail (the operator did not deliver in time), then every obligation's remainder is
 * split into shortfall (refund + penalty to the buyer) and unused (take-or-pay: paid to the seller).
 * Only operator-fault failures count as shortfall: a job the request made fail (REQUEST_REJECTED)
 * gave its tokens back to the obligation, so they end as unused. Last, each closed obligation's
 * trace chain is sealed: its head hash is stored for TRACE_CHAIN to recompute.
 */
@Injectable()
export class WindowCloseService {
  private readonly logger = new Logger(WindowCloseService.name);

  constructor(
    private readonly repo: DeliveryRepository,
    private readonly jobs: DeliveryJobsRepository,
    private readonly obligations: ObligationsRepository,
    private readonly ledger: LedgerService,
    private readonly failures: JobFailures,
    private readonly verification: VerificationRepository,
  ) {}

  async close(tx: Tx, ctx: { runId: string; series: SeriesWithProduct; businessDate: string; base: string }): Promise<{ closed: number }> {
    const { series, businessDate, base } = ctx;
    // Verification re-runs still out are dropped first: the originals stay unverified, not failed.
    await this.verification.dropUnfinished(tx, series.id);
    const ids = await this.jobs.failUnfinished(tx, series.id);
    await this.failures.settle(tx, ids);

    const open = await this.obligations.lockUnclosed(tx, series.id);
    const failed = await this.repo.failedOperatorTokens(
      tx,
      open.map((o) => o.id),
    );
    const transfers: TransferRequest[] = [];
    const closes = open.map((o) => ({ o, c: closeObligation(o, failed.get(o.id) ?? 0n, series.product.penaltyBp) }));
    for (const { o, c } of closes) {
      const escrow = memberAccount(o.buyerId, 'ESCROW');
      const refs = { settlementRunId: ctx.runId, obligationId: o.id };
      const common = { businessDate, refs };
      if (c.releaseFen > 0n)
        transfers.push({
          ...common,
          idempotencyKey: `${base}.unused.${o.id}`,
          debit: escrow,
          credit: memberAccount(o.sellerId, 'CASH'),
          amountFen: c.releaseFen,
          kind: 'ESCROW_RELEASE',
        });
      if (c.refundFen > 0n)
        transfers.push({
          ...common,
          idempotencyKey: `${base}.refund.${o.id}`,
          debit: escrow,
          credit: memberAccount(o.buyerId, 'CASH'),
          amountFen: c.refundFen,
          kind: 'ESCROW_REFUND',
        });
      if (c.penaltyFen > 0n) {
        transfers.push({
          ...common,
          idempotencyKey: `${base}.penalty.${o.id}`,
          debit: memberAccount(o.sellerId, 'CASH'),
          credit: memberAccount(o.buyerId, 'CASH'),
          amountFen: c.penaltyFen,
          kind: 'PENALTY',
          collectByRight: true,
        });
      }
    }
    await this.obligations.close(
      tx,
      closes.map(({ o, c }) => ({ id: o.id, ...c })),
    );
    await this.ledger.postBatch(tx, transfers);
    const seals: { id: string; hash: string }[] = [];
    for (const { o } of closes) seals.push({ id: o.id, hash: headHash(chain(await traceEntries(tx, o.id))) });
    await sealTraces(tx, seals);
    this.logger.log({ series: series.code, obligations: open.length, failedJobs: ids.length }, 'delivery window closed');
    return { closed: open.length };
  }
}
