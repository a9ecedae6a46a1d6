import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { StandbyOffer } from '../generated/prisma/client.js';
import { ObligationsRepository } from '../delivery/obligations.repository.js';
import { releasedFor } from '../delivery/domain/metering.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { memberAccount, type TransferRequest } from '../ledger/ledger.types.js';
import { memberScope } from '../platform/auth/ownership.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { isUuid } from '../platform/http/ids.js';
import type { Principal } from '../platform/http/request-context.js';
import { basisPoints, formatFen } from '../platform/money/money.js';
import { decodeCursor, toPage, type Page } from '../platform/pagination/page.js';
import type { Tx } from '../platform/prisma/prisma.service.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { Clock } from '../platform/time/clock.js';
import { StandbyRepository } from './standby.repository.js';

const CURSOR = /^\d{13}\|[0-9a-f-]{36}$/;

export function offerView(o: StandbyOffer) {
  return {
    id: o.id,
    operatorId: o.operatorId,
    modelClass: o.modelClass,
    regions: o.regions,
    tokens: Number(o.tokens),
    remainingTokens: Number(o.remainingTokens),
    premiumBp: o.premiumBp,
    status: o.status,
    createdAt: o.createdAt.toISOString(),
  };
}

export interface BuyInResult {
  obligationId: string;
  movedTokens: number;
  substitutes: { obligationId: string; sellerId: string; offerId: string; tokens: number; notional: string; premium: string }[];
}

/**
 * Physical buy-in (SPEC §6.4): an obligation's undelivered tokens move to standby operators,
 * lowest premium first, split across offers, as new obligations at the original price for the same
 * buyer. The escrow of the moved tokens moves with them (refunded from the original and funded into
 * each substitute in one posting: the buyer's cash does not move); the premium — premiumBp of the
 * moved value, rounded up against the seller — is charged to the original seller's cash by right
 * (a margin call, or the waterfall when it defaulted) and paid to the standby operator. The buyer's
 * QUEUED jobs are re-pointed to the substitutes and dispatched again; jobs in a node's hands stay.
 */
@Injectable()
export class BuyInService {
  private readonly logger = new Logger(BuyInService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly standby: StandbyRepository,
    private readonly obligations: ObligationsRepository,
    private readonly ledger: LedgerService,
    private readonly outbox: OutboxService,
    private readonly clock: Clock,
  ) {}

  async offer(p: Principal, body: { modelClass: string; regions: string[]; tokens: number; premiumBp: number }) {
    if (!this.config.modelClasses.includes(body.modelClass)) throw new DomainError('UNKNOWN_MODEL_CLASS', body.modelClass);
    const bad = body.regions.find((r) => !this.config.regions.includes(r));
    if (bad) throw new DomainError('UNKNOWN_REGION', bad);
    const tokens = BigInt(body.tokens);
    const row = await this.standby.create(this.tx.root, {
      operatorId: p.memberId,
      modelClass: body.modelClass,
      regions: [...new Set(body.regions)],
      tokens,
      remainingTokens: tokens,
      premiumBp: body.premiumBp,
      createdAt: this.clock.now(),
    });
    return offerView(row);
  }

  async list(p: Principal, q: { cursor?: string; limit?: number }): Promise<Page<ReturnType<typeof offerView>>> {
    const limit = q.limit ?? 50;
    const after = decodeCursor(q.cursor, CURSOR);
    const [ms, id] = after ? after.split('|') : [];
    const rows = await this.standby.page(this.tx.root, {
      operatorId: memberScope(p),
      after: after ? { createdAt: new Date(Number(ms)), id } : undefined,
      limit,
    });
    return toPage(rows, limit, (o) => `${String(o.createdAt.getTime()).padStart(13, '0')}|${o.id}`, offerView);
  }

  /** Clearing's `POST /v1/obligations/:id/buy-in`. */
  async buyIn(obligationId: string): Promise<BuyInResult> {
    if (!isUuid(obligationId)) throw new DomainError('NOT_FOUND', 'obligation not found');
    const result = await this.tx.run((tx) => this.buyInIn(tx, obligationId, `buy-in.${obligationId}.${this.clock.now().getTime()}`));
    this.outbox.poke();
    return result;
  }

  /** A defaulting seller: every open obligation it still owes tokens on, as far as standby capacity goes. */
  async buyInSeller(tx: Tx, sellerId: string, key: string): Promise<BuyInResult[]> {
    const out: BuyInResult[] = [];
    for (const id of await this.obligations.openOfSeller(tx, sellerId)) {
      try {
        out.push(await this.buyInIn(tx, id, `${key}.buy-in.${id}`));
      } catch (err) {
        if (err instanceof DomainError && (err.code === 'BUY_IN_NOT_POSSIBLE' || err.code === 'NO_STANDBY_CAPACITY')) {
          this.logger.warn({ obligation: id, reason: err.code }, 'obligation of a defaulted seller not bought in');
          continue;
        }
        throw err;
      }
    }
    return out;
  }

  private async buyInIn(tx: Tx, id: string, key: string): Promise<BuyInResult> {
    const o = await this.obligations.lockForBuyIn(tx, id);
    if (!o) throw new DomainError('NOT_FOUND', 'obligation not found');
    const inFlight = await this.obligations.inFlightReserved(tx, o.id);
    const keep = o.deliveredTokens + inFlight;
    const want = o.tokens - keep;
    if (o.status !== 'OPEN' || want <= 0n)
      throw new DomainError('BUY_IN_NOT_POSSIBLE', `obligation is ${o.status} with ${want > 0n ? want : 0n} tokens to move`);

    // Lowest premium first, split across offers as far as they go.
    const pieces: { offer: StandbyOffer; tokens: bigint }[] = [];
    let left = want;
    for (const offer of await this.standby.candidates(tx, {
      modelClass: o.modelClass,
      regions: o.regions,
      exclude: [o.sellerId, o.buyerId],
    })) {
      if (left === 0n) break;
      const take = offer.remainingTokens < left ? offer.remainingTokens : left;
      pieces.push({ offer, tokens: take });
      left -= take;
    }
    if (pieces.length === 0) throw new DomainError('NO_STANDBY_CAPACITY', `no standby offer for ${o.modelClass}`);
    const moved = want - left;
    // The original keeps the value of the tokens it keeps, by the metering's own rule; the rest moves.
    const kept = o.tokens - moved;
    const keptFen = releasedFor(o.notionalFen, o.tokens, kept);
    const movedFen = o.notionalFen - keptFen;

    const businessDate = this.clock.businessDate();
    const transfers: TransferRequest[] = [
      {
        idempotencyKey: `${key}.escrow-out`,
        debit: memberAccount(o.buyerId, 'ESCROW'),
        credit: memberAccount(o.buyerId, 'CASH'),
        amountFen: movedFen,
        kind: 'ESCROW_REFUND',
        businessDate,
        refs: { obligationId: o.id },
        reference: 'buy-in: escrow moves to the substitute obligations',
      },
    ];
    let seq = await this.obligations.nextSeq(tx, o.seriesId);
    let cumTokens = 0n;
    let cumFen = 0n;
    const substitutes: BuyInResult['substitutes'] = [];
    const rows = pieces.map(({ offer, tokens }) => {
      cumTokens += tokens;
      // Cumulative rounding: the pieces' notionals add up to the moved value exactly.
      const upTo = (movedFen * cumTokens) / moved;
      const notionalFen = upTo - cumFen;
      cumFen = upTo;
      return { offer, tokens, notionalFen, id: randomUUID(), seq: seq++ };
    });
    for (const r of rows) {
      const premiumFen = basisPoints(r.notionalFen, r.offer.premiumBp, 'against-member');
      if (r.notionalFen > 0n)
        transfers.push({
          idempotencyKey: `${key}.escrow-in.${r.offer.id}`,
          debit: memberAccount(o.buyerId, 'CASH'),
          credit: memberAccount(o.buyerId, 'ESCROW'),
          amountFen: r.notionalFen,
          kind: 'ESCROW_FUND',
          businessDate,
          refs: { obligationId: r.id },
          reference: 'buy-in: escrow moved from the original obligation',
        });
      if (premiumFen > 0n)
        transfers.push({
          idempotencyKey: `${key}.premium.${r.offer.id}`,
          debit: memberAccount(o.sellerId, 'CASH'),
          credit: memberAccount(r.offer.operatorId, 'CASH'),
          amountFen: premiumFen,
          kind: 'BUY_IN_PREMIUM',
          businessDate,
          refs: { obligationId: r.id },
          collectByRight: true,
        });
      substitutes.push({
        obligationId: r.id,
        sellerId: r.offer.operatorId,
        offerId: r.offer.id,
        tokens: Number(r.tokens),
        notional: formatFen(r.notionalFen),
        premium: formatFen(premiumFen),
      });
    }

    // QUEUED jobs follow their reservations to the substitutes, in order.
    const queued = await this.obligations.queuedJobs(tx, o.id);
    const room = rows.map((r) => r.tokens);
    const reservedOn = rows.map(() => 0n);
    const repoint: { jobId: string; obligationId: string; sellerId: string; attempt: number }[] = [];
    for (const j of queued) {
      const i = room.findIndex((t) => t >= j.reservedTokens);
      if (i < 0) continue;
      room[i] -= j.reservedTokens;
      reservedOn[i] += j.reservedTokens;
      repoint.push({ jobId: j.id, obligationId: rows[i].id, sellerId: rows[i].offer.operatorId, attempt: j.attempt });
    }
    const movedReserved = reservedOn.reduce((a, b) => a + b, 0n);
    // Re-pointed jobs' reservations leave the original; its tokens shrink by the moved ones.
    await this.obligations.shrinkForBuyIn(tx, o.id, { movedTokens: moved, movedFen, movedReserved });
    const now = this.clock.now();
    await this.obligations.createMany(
      tx,
      rows.map((r, i) => ({
        id: r.id,
        seriesId: o.seriesId,
        seq: r.seq,
        sellerId: r.offer.operatorId,
        buyerId: o.buyerId,
        contracts: 0,
        tokens: r.tokens,
        priceFen: o.priceFen,
        notionalFen: r.notionalFen,
        reservedTokens: reservedOn[i],
        status: 'OPEN',
        fundedAt: now,
        replacesObligationId: o.id,
        standbyOfferId: r.offer.id,
      })),
    );
    for (const r of rows) await this.standby.take(tx, r.offer.id, r.tokens);
    await this.ledger.post(tx, transfers);
    await this.obligations.repointJobs(tx, repoint);
    await this.outbox.enqueueMany(
      tx,
      'delivery.dispatch',
      repoint.map((j) => ({
        payload: { jobId: j.jobId, attempt: j.attempt },
        jobId: `buy-in-dispatch-${j.jobId}-${j.attempt}-${now.getTime()}`,
      })),
    );
    this.logger.warn({ obligation: o.id, moved: Number(moved), substitutes: rows.length, jobs: repoint.length }, 'obligation bought in');
    return { obligationId: o.id, movedTokens: Number(moved), substitutes };
  }
}
