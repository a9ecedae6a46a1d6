import { Injectable, Logger } from '@nestjs/common';
import { LedgerService } from '../ledger/ledger.service.js';
import { HOUSE, memberAccount, type TransferRequest } from '../ledger/ledger.types.js';
import { BlockTradesService } from '../markets/block-trades.service.js';
import type { Tx } from '../platform/prisma/prisma.service.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import type { JobPayloads } from '../platform/queues/job-registry.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { Clock } from '../platform/time/clock.js';
import { closeOutLot, type Lot } from './domain/auction.js';
import { runWaterfall, type WaterfallStep } from './domain/waterfall.js';
import { DefaultsRepository } from './defaults.repository.js';

/**
 * The end of a default's auction, in one transaction (a crash posts nothing; the retried job does
 * it all again the same way):
 *  1. per lot, the best bids win (closeOutLot); each award is a block trade between the defaulter
 *     and the winner, booked at the lot's reference (last settlement) price so positions, margin
 *     and fees behave as any trade and the next daily run marks it like every other position; the
 *     award price's difference from the reference is paid at once between the defaulter's and the
 *     winner's cash (DEFAULT_CLOSE_OUT) — so the close-out cost lands on the defaulter now;
 *  2. what no bid took is torn up against the opposite holders, pro rata, at the reference price;
 *  3. the loss — the defaulter's negative cash after the close-out (close-out cost plus any
 *     negative cash it already had; positive cash absorbs first) — is paid by the waterfall: each
 *     layer to `ccp:default`, then `ccp:default` → the defaulter's cash, so `ccp:default` is back
 *     to zero; what the margin layer did not need goes back to the defaulter's cash.
 */
@Injectable()
export class CloseOutService {
  private readonly logger = new Logger(CloseOutService.name);

  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: DefaultsRepository,
    private readonly blocks: BlockTradesService,
    private readonly ledger: LedgerService,
    private readonly outbox: OutboxService,
    private readonly clock: Clock,
  ) {}

  @JobHandler('defaults.close-auction')
  async close({ defaultId }: JobPayloads['defaults.close-auction']): Promise<{ status: string }> {
    const status = await this.tx.run(
      async (tx) => {
        const d = await this.repo.lock(tx, defaultId);
        if (!d || d.status !== 'AUCTION') return d?.status ?? 'MISSING';
        const now = this.clock.now();
        if (d.auctionEndsAt && now < d.auctionEndsAt) {
          // Delivered early (the relay's clock and the service's differ): come back at the end.
          const notBefore = new Date(Date.now() + (d.auctionEndsAt.getTime() - now.getTime()));
          await this.outbox.enqueue(
            tx,
            'defaults.close-auction',
            { defaultId },
            { jobId: `default-close-${defaultId}-${notBefore.getTime()}`, notBefore },
          );
          return 'WAITING';
        }
        await this.closeOut(tx, d.id, d.memberId);
        const loss = await this.waterfall(tx, d.id, d.memberId);
        await this.repo.update(tx, d.id, { status: 'COMPLETED', completedAt: now, ...loss });
        return 'COMPLETED';
      },
      { timeout: 120_000, maxWait: 30_000 },
    );
    this.outbox.poke();
    if (status === 'COMPLETED') this.logger.warn({ default: defaultId }, 'default closed out');
    return { status };
  }

  private async closeOut(tx: Tx, defaultId: string, defaulterId: string): Promise<void> {
    const bids = await this.repo.bids(tx, defaultId);
    const businessDate = this.clock.businessDate();
    for (const lot of await this.repo.lots(tx, defaultId)) {
      const l: Lot = {
        seriesId: lot.seriesId,
        side: lot.side as Lot['side'],
        quantity: lot.quantity,
        referencePriceFen: lot.referencePriceFen,
        multiplier: lot.multiplier,
      };
      const holders = await this.repo.oppositeHolders(tx, lot.seriesId, l.side, defaulterId);
      const outcome = closeOutLot(
        l,
        bids
          .filter((b) => b.lotId === lot.id)
          .map((b) => ({
            id: b.id,
            bidderId: b.bidderId,
            seriesId: lot.seriesId,
            priceFen: b.priceFen,
            quantity: b.quantity,
            submittedAt: b.createdAt,
          })),
        holders,
      );
      // The defaulter sells a LONG lot and buys back a SHORT one.
      const sides = (counterparty: string) =>
        l.side === 'LONG' ? { buyerId: counterparty, sellerId: defaulterId } : { buyerId: defaulterId, sellerId: counterparty };
      const rows = [];
      const payments: TransferRequest[] = [];
      for (const a of outcome.awards) {
        const trade = await this.blocks.registerIn(
          tx,
          { seriesCode: lot.seriesCode, ...sides(a.bidderId), priceFen: l.referencePriceFen, quantity: a.quantity },
          { defaulterId, kind: 'AWARD' },
        );
        await this.repo.awardBid(tx, a.bidId, a.quantity);
        rows.push({
          defaultId,
          lotId: lot.id,
          kind: 'AWARD',
          memberId: a.bidderId,
          bidId: a.bidId,
          quantity: a.quantity,
          priceFen: a.priceFen,
          tradeId: trade.id,
        });
        // Positive: the award is worse for the defaulter than the reference price.
        const cost =
          (l.side === 'LONG' ? l.referencePriceFen - a.priceFen : a.priceFen - l.referencePriceFen) * BigInt(a.quantity) * l.multiplier;
        if (cost !== 0n)
          payments.push({
            idempotencyKey: `default.${defaultId}.award.${a.bidId}.price`,
            debit: memberAccount(cost > 0n ? defaulterId : a.bidderId, 'CASH'),
            credit: memberAccount(cost > 0n ? a.bidderId : defaulterId, 'CASH'),
            amountFen: cost > 0n ? cost : -cost,
            kind: 'DEFAULT_CLOSE_OUT',
            businessDate,
            refs: { tradeId: trade.id },
            collectByRight: true,
          });
      }
      for (const t of outcome.tearUps) {
        const trade = await this.blocks.registerIn(
          tx,
          { seriesCode: lot.seriesCode, ...sides(t.memberId), priceFen: l.referencePriceFen, quantity: t.quantity },
          { defaulterId, kind: 'TEAR_UP' },
        );
        rows.push({
          defaultId,
          lotId: lot.id,
          kind: 'TEAR_UP',
          memberId: t.memberId,
          bidId: null,
          quantity: t.quantity,
          priceFen: l.referencePriceFen,
          tradeId: trade.id,
        });
      }
      await this.ledger.postBatch(tx, payments);
      await this.repo.insertCloseOuts(tx, rows);
      const sold = outcome.awards.reduce((n, a) => n + a.quantity, 0);
      await this.repo.updateLot(tx, lot.id, { soldQuantity: sold, tornUpQuantity: lot.quantity - sold, lossFen: outcome.lossFen });
    }
  }

  private async waterfall(
    tx: Tx,
    defaultId: string,
    defaulterId: string,
  ): Promise<{ lossFen: bigint; coveredFen: bigint; uncoveredFen: bigint }> {
    const cash = memberAccount(defaulterId, 'CASH');
    const margin = memberAccount(defaulterId, 'MARGIN');
    const guarantee = memberAccount(defaulterId, 'GUARANTEE');
    const survivors = await this.repo.survivors(tx, defaulterId);
    const balances = await this.repo.balances(tx, [
      cash,
      margin,
      guarantee,
      HOUSE.ccpCapital,
      ...survivors.map((s) => memberAccount(s.memberId, 'GUARANTEE')),
    ]);
    const cashFen = balances.get(cash) ?? 0n;
    const lossFen = cashFen < 0n ? -cashFen : 0n;
    const outcome = runWaterfall(defaulterId, lossFen, {
      defaulterMarginFen: balances.get(margin) ?? 0n,
      defaulterGuaranteeFen: balances.get(guarantee) ?? 0n,
      ccpCapitalFen: balances.get(HOUSE.ccpCapital) ?? 0n,
      survivors: survivors.map((s) => ({
        memberId: s.memberId,
        requirementFen: s.requirementFen,
        contributionFen: balances.get(memberAccount(s.memberId, 'GUARANTEE')) ?? 0n,
      })),
    });
    const businessDate = this.clock.businessDate();
    const source = (s: WaterfallStep) =>
      s.layer === 'DEFAULTER_MARGIN'
        ? margin
        : s.layer === 'DEFAULTER_GUARANTEE'
          ? guarantee
          : s.layer === 'CCP_CAPITAL'
            ? HOUSE.ccpCapital
            : memberAccount(s.memberId!, 'GUARANTEE');
    const transfers: TransferRequest[] = outcome.steps.map((s, i) => ({
      idempotencyKey: `default.${defaultId}.step.${i + 1}`,
      debit: source(s),
      credit: HOUSE.ccpDefault,
      amountFen: s.amountFen,
      kind: 'DEFAULT_WATERFALL',
      businessDate,
      reference: `${s.layer} default ${defaultId}`.slice(0, 200),
    }));
    if (outcome.coveredFen > 0n)
      transfers.push({
        idempotencyKey: `default.${defaultId}.cover`,
        debit: HOUSE.ccpDefault,
        credit: cash,
        amountFen: outcome.coveredFen,
        kind: 'DEFAULT_WATERFALL',
        businessDate,
        reference: `loss covered, default ${defaultId}`,
      });
    const marginLeft = (balances.get(margin) ?? 0n) - (outcome.steps.find((s) => s.layer === 'DEFAULTER_MARGIN')?.amountFen ?? 0n);
    if (marginLeft > 0n)
      transfers.push({
        idempotencyKey: `default.${defaultId}.margin-release`,
        debit: margin,
        credit: cash,
        amountFen: marginLeft,
        kind: 'MARGIN_RELEASE',
        businessDate,
      });
    await this.ledger.post(tx, transfers);
    await this.repo.insertSteps(
      tx,
      outcome.steps.map((s, i) => ({ defaultId, seq: i + 1, layer: s.layer, memberId: s.memberId, amountFen: s.amountFen })),
    );
    return { lossFen, coveredFen: outcome.coveredFen, uncoveredFen: outcome.uncoveredFen };
  }
}
