import { Inject, Injectable, Logger } from '@nestjs/common';
import type { MemberDefault } from '../generated/prisma/client.js';
import { CashService } from '../ledger/cash.service.js';
import { multiplier } from '../markets/domain/contract-math.js';
import { OrdersService } from '../markets/orders.service.js';
import { assertQuantity } from '../markets/pre-trade.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { isUuid } from '../platform/http/ids.js';
import type { Principal } from '../platform/http/request-context.js';
import { formatFen, parseAmount } from '../platform/money/money.js';
import { decodeCursor, toPage, type Page } from '../platform/pagination/page.js';
import type { Tx } from '../platform/prisma/prisma.service.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { Clock } from '../platform/time/clock.js';
import { assertSecondPerson, personOf } from '../staff/four-eyes.js';
import { BuyInService } from './buy-in.service.js';
import { DefaultsRepository } from './defaults.repository.js';
import type { DefaultView } from './dto/defaults.dto.js';

const CURSOR = /^\d{13}\|[0-9a-f-]{36}$/;

/** The view's fields as a plain object type (the DTO class is for the OpenAPI document). */
type DefaultFields = { [K in keyof DefaultView]: DefaultView[K] };

export function defaultView(d: MemberDefault): DefaultFields {
  const fen = (v: bigint | null) => (v === null ? null : v.toString());
  return {
    id: d.id,
    memberId: d.memberId,
    reason: d.reason,
    status: d.status,
    origin: d.origin,
    proposedBy: d.proposedByStaffId,
    approvedBy: d.approvedByStaffId,
    createdAt: d.createdAt.toISOString(),
    approvedAt: d.approvedAt?.toISOString() ?? null,
    auctionEndsAt: d.auctionEndsAt?.toISOString() ?? null,
    completedAt: d.completedAt?.toISOString() ?? null,
    lossFen: fen(d.lossFen),
    coveredFen: fen(d.coveredFen),
    uncoveredFen: fen(d.uncoveredFen),
  };
}

/**
 * Declaring a member's default (SPEC §6.4): one person proposes, another approves. The approval
 * suspends the member, cancels its resting orders, refuses its pending withdrawals, buys in its
 * undelivered obligations and puts its net positions to a sealed-bid auction that a delayed job
 * closes (close-out.service.ts).
 */
@Injectable()
export class DefaultsService {
  private readonly logger = new Logger(DefaultsService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly repo: DefaultsRepository,
    private readonly orders: OrdersService,
    private readonly cash: CashService,
    private readonly buyIns: BuyInService,
    private readonly outbox: OutboxService,
    private readonly clock: Clock,
  ) {}

  async propose(p: Principal, memberId: string, reason: string): Promise<DefaultFields> {
    const staffId = personOf(p);
    return defaultView(await this.proposeIn(memberId, reason, { origin: 'API', proposedByStaffId: staffId, proposedByKeyId: p.keyId }));
  }

  private proposeIn(
    memberId: string,
    reason: string,
    by: { origin: 'API' | 'AUTO'; proposedByStaffId: string | null; proposedByKeyId: string | null },
  ): Promise<MemberDefault> {
    return this.tx.run(async (tx) => {
      const member = await this.repo.member(tx, memberId);
      if (!member || member.kind === 'CLEARING') throw new DomainError('NOT_FOUND', 'member not found');
      await this.repo.lockMember(tx, memberId);
      const open = await this.repo.openOf(tx, memberId);
      if (open) throw new DomainError('DEFAULT_ALREADY_OPEN', `default ${open.id} is ${open.status}`);
      return this.repo.create(tx, { memberId, reason: reason.trim(), ...by });
    });
  }

  async approve(p: Principal, id: string): Promise<DefaultFields> {
    const approved = await this.tx.run(async (tx) => {
      const d = await this.lockProposed(tx, id);
      assertSecondPerson(p, { staffId: d.proposedByStaffId, keyId: d.proposedByKeyId }, 'SELF_APPROVAL');
      const now = this.clock.now();
      await this.repo.suspend(tx, d.memberId);
      await this.orders.cancelAllOf(tx, d.memberId, 'DEFAULT', `default.${d.id}.cancel`);
      await this.cash.refusePendingOf(tx, d.memberId, p.keyId, `member defaulted (default ${d.id})`);
      await this.buyIns.buyInSeller(tx, d.memberId, `default.${d.id}`);
      const positions = await this.repo.netPositions(tx, d.memberId);
      await this.repo.createLots(
        tx,
        positions.map((pos) => ({
          defaultId: d.id,
          seriesId: pos.seriesId,
          side: pos.net > 0 ? 'LONG' : 'SHORT',
          quantity: Math.abs(pos.net),
          referencePriceFen: pos.referencePriceFen,
          multiplier: multiplier(pos.contractSizeTokens),
        })),
      );
      const auctionMs = this.config.defaults.auctionSeconds * 1000;
      const auctionEndsAt = new Date(now.getTime() + auctionMs);
      // The relay delays by wall time (as dispatch does); the close itself checks business time.
      const notBefore = new Date(Date.now() + auctionMs);
      await this.outbox.enqueue(tx, 'defaults.close-auction', { defaultId: d.id }, { jobId: `default-close-${d.id}`, notBefore });
      return this.repo.update(tx, d.id, { status: 'AUCTION', approvedByStaffId: personOf(p), approvedAt: now, auctionEndsAt });
    });
    this.outbox.poke();
    this.logger.log({ default: approved.id, member: approved.memberId }, 'member default declared');
    return defaultView(approved);
  }

  /** A sealed bid for (part of) one lot; the defaulter's keys never get here (suspended). */
  async bid(p: Principal, id: string, body: { series: string; price: unknown; quantity: unknown }) {
    const priceFen = parseAmount(body.price, 'price');
    const quantity = assertQuantity(body.quantity);
    const bid = await this.tx.run(async (tx) => {
      // Locked as the close locks it: a bid either lands before the close reads the bids, or is refused.
      const d = isUuid(id) ? await this.repo.lock(tx, id) : null;
      if (!d) throw new DomainError('NOT_FOUND', 'default not found');
      if (d.memberId === p.memberId) throw new DomainError('FORBIDDEN_ROLE', 'the defaulter may not bid');
      if (d.status !== 'AUCTION' || !d.auctionEndsAt || this.clock.now() >= d.auctionEndsAt)
        throw new DomainError('AUCTION_CLOSED', `the auction is ${d.status === 'AUCTION' ? 'over' : d.status}`);
      const lot = (await this.repo.lots(tx, d.id)).find((l) => l.seriesCode === body.series);
      if (!lot) throw new DomainError('NO_SUCH_LOT', `no lot in ${body.series}`);
      const tick = (await this.repo.netPositions(tx, d.memberId)).find((x) => x.seriesId === lot.seriesId)?.tickFen ?? 1n;
      if (priceFen % tick !== 0n) throw new DomainError('OFF_TICK', `price must be a multiple of ${formatFen(tick)}`);
      if (quantity > lot.quantity) throw new DomainError('INVALID_QUANTITY', `the lot is ${lot.quantity} contracts`);
      return this.repo.createBid(tx, {
        defaultId: d.id,
        lotId: lot.id,
        bidderId: p.memberId,
        priceFen,
        quantity,
        createdAt: this.clock.now(),
      });
    });
    return {
      id: bid.id,
      defaultId: bid.defaultId,
      series: body.series,
      price: formatFen(bid.priceFen),
      quantity: bid.quantity,
      createdAt: bid.createdAt.toISOString(),
    };
  }

  /** Clearing sees everything; a member sees the lots, its own bids and its own awards (bids are sealed). */
  async get(p: Principal, id: string) {
    const d = isUuid(id) ? await this.repo.find(this.tx.root, id) : null;
    if (!d || (p.role !== 'clearing' && d.status === 'PROPOSED')) throw new DomainError('NOT_FOUND', 'default not found');
    const clearing = p.role === 'clearing';
    const [lots, bids, closeOuts, steps] = await Promise.all([
      this.repo.lots(this.tx.root, d.id),
      this.repo.bids(this.tx.root, d.id, clearing ? undefined : p.memberId),
      this.repo.closeOuts(this.tx.root, d.id),
      clearing ? this.repo.steps(this.tx.root, d.id) : Promise.resolve([]),
    ]);
    const code = new Map(lots.map((l) => [l.id, l.seriesCode]));
    const fen = (v: bigint) => ({ amountFen: v.toString(), amount: formatFen(v) });
    return {
      ...defaultView(d),
      currency: 'CNY',
      lots: lots.map((l) => ({
        id: l.id,
        series: l.seriesCode,
        side: l.side,
        quantity: l.quantity,
        referencePrice: formatFen(l.referencePriceFen),
        soldQuantity: l.soldQuantity,
        tornUpQuantity: l.tornUpQuantity,
        lossFen: l.lossFen.toString(),
      })),
      bids: bids.map((b) => ({
        id: b.id,
        series: code.get(b.lotId),
        bidderId: b.bidderId,
        price: formatFen(b.priceFen),
        quantity: b.quantity,
        awardedQuantity: b.awardedQuantity,
        createdAt: b.createdAt.toISOString(),
      })),
      awards: closeOuts
        .filter((c) => clearing || c.memberId === p.memberId)
        .map((c) => ({
          kind: c.kind,
          series: code.get(c.lotId),
          memberId: c.memberId,
          bidId: c.bidId,
          quantity: c.quantity,
          price: formatFen(c.priceFen),
          tradeId: c.tradeId,
        })),
      waterfall: steps.map((s) => ({ seq: s.seq, layer: s.layer, memberId: s.memberId, ...fen(s.amountFen) })),
    };
  }

  /** Members see declared defaults only (a proposal is clearing's business until approved). */
  async list(
    p: Principal,
    q: { status?: 'PROPOSED' | 'AUCTION' | 'COMPLETED'; cursor?: string; limit?: number },
  ): Promise<Page<DefaultFields>> {
    const limit = q.limit ?? 50;
    if (p.role !== 'clearing' && q.status === 'PROPOSED') return { items: [], nextCursor: null };
    const after = decodeCursor(q.cursor, CURSOR);
    const [ms, id] = after ? after.split('|') : [];
    const rows = await this.repo.page(this.tx.root, {
      status: q.status,
      declaredOnly: p.role !== 'clearing',
      after: after ? { createdAt: new Date(Number(ms)), id } : undefined,
      limit,
    });
    return toPage(rows, limit, (d) => `${String(d.createdAt.getTime()).padStart(13, '0')}|${d.id}`, defaultView);
  }

  /**
   * AUTO_PROPOSE_DEFAULT: a member whose margin call is past its due time gets a default
   * *proposed* (origin AUTO, no person); declaring it still takes a person's approval.
   */
  @JobHandler('defaults.auto-propose')
  async autoPropose(): Promise<{ proposed: number }> {
    let proposed = 0;
    for (const o of await this.repo.overdueMembers(this.tx.root, this.clock.now())) {
      try {
        await this.proposeIn(o.memberId, `margin call ${o.callId} overdue`, {
          origin: 'AUTO',
          proposedByStaffId: null,
          proposedByKeyId: null,
        });
        proposed++;
      } catch (err) {
        if (!(err instanceof DomainError && err.code === 'DEFAULT_ALREADY_OPEN')) throw err;
      }
    }
    if (proposed > 0) this.logger.warn({ proposed }, 'defaults proposed for overdue margin calls');
    return { proposed };
  }

  private async lockProposed(tx: Tx, id: string): Promise<MemberDefault> {
    const d = isUuid(id) ? await this.repo.lock(tx, id) : null;
    if (!d) throw new DomainError('NOT_FOUND', 'default not found');
    if (d.status !== 'PROPOSED') throw new DomainError('DEFAULT_NOT_PROPOSED', `default is ${d.status}`);
    return d;
  }
}
