import { Injectable } from '@nestjs/common';
import type { NodePrincipal } from '../capacity/node-token.guard.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { memberAccount } from '../ledger/ledger.types.js';
import { ListingCache } from '../markets/listing-cache.js';
import { PrismaService } from '../platform/prisma/prisma.service.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { Clock } from '../platform/time/clock.js';
import { DeliveryRepository } from './delivery.repository.js';
import { jobView } from './delivery-views.js';
import { billableTokens, meter } from './domain/metering.js';
import type { CompleteJobDto } from './dto/delivery.dto.js';
import { LeaseService } from './lease.service.js';
import { NodeQueues, nodeEntryId } from './node-queues.js';

/**
 * Applies a completion exactly once: the job row (locked, lease checked), the usage record
 * (unique per job), the obligation's delivered tokens and the escrow release are one transaction.
 * The same completion again (same lease token) changes nothing and answers the same; a completion
 * under a lease that is no longer current is refused.
 */
@Injectable()
export class MeteringService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly repo: DeliveryRepository,
    private readonly leases: LeaseService,
    private readonly listings: ListingCache,
    private readonly ledger: LedgerService,
    private readonly nodes: NodeQueues,
    private readonly outbox: OutboxService,
    private readonly clock: Clock,
  ) {}

  /** Returns the job as it now stands (built from the rows written, so a completion costs no re-read). */
  async complete(node: NodePrincipal, jobId: string, body: CompleteJobDto): Promise<{ replayed: boolean; attempt: number; view?: ReturnType<typeof jobView> }> {
    const outcome = await this.prisma.$transaction(async (tx) => {
      const [existing] = await this.repo.lockJob(tx, jobId);
      if (existing?.status === 'COMPLETED' && existing.leaseToken === body.leaseToken && existing.sellerId === node.operatorId) return { replayed: true, attempt: existing.attempt };
      const job = await this.leases.leased(tx, node, jobId, body.leaseToken, existing);
      // The product's terms (input weight, quality floors) never change: cached listing.
      const series = (await this.listings.seriesById(job.seriesId))!;
      const product = series.product;
      const [o] = await this.repo.lockObligation(tx, job.obligationId);
      const prompt = BigInt(body.usage.prompt_tokens);
      const completion = BigInt(body.usage.completion_tokens);
      const billable = billableTokens(prompt, completion, product.inputTokenWeightBp);
      const m = meter(o, billable);
      const ttftBreach = body.ttftMs > product.maxTtftMs;
      // Rate = completion tokens / duration; compared without division: tokens × 1000 < floor × ms.
      const rateBreach = body.durationMs > 0 && completion * 1000n < BigInt(product.minTokensPerSecond) * BigInt(body.durationMs);
      const usage = await tx.usageRecord.create({
        data: {
          jobId,
          obligationId: o.id,
          nodeId: node.nodeId,
          operatorId: node.operatorId,
          promptTokens: prompt,
          completionTokens: completion,
          billableTokens: billable,
          creditedTokens: m.credited,
          excessTokens: m.excess,
          releasedFen: m.releaseFen,
          ttftMs: body.ttftMs,
          durationMs: body.durationMs,
          ttftBreach,
          rateBreach,
        },
      });
      await tx.deliveryObligation.update({
        where: { id: o.id },
        data: { deliveredTokens: m.deliveredAfter, reservedTokens: { decrement: job.reservedTokens }, excessTokens: { increment: m.excess }, releasedFen: { increment: m.releaseFen } },
      });
      if (m.releaseFen > 0n) {
        await this.ledger.postBatch(tx, [
          {
            idempotencyKey: `deliver.${jobId}.release`,
            debit: memberAccount(o.buyerId, 'ESCROW'),
            credit: memberAccount(o.sellerId, 'CASH'),
            amountFen: m.releaseFen,
            kind: 'ESCROW_RELEASE',
            businessDate: this.clock.businessDate(),
            refs: { obligationId: o.id, jobId },
            reference: `${m.credited} tokens delivered`,
          },
        ]);
      }
      const now = new Date();
      const done = { status: 'COMPLETED' as const, output: body.output, finishedAt: now, updatedAt: now, leaseExpiresAt: null };
      await tx.deliveryJob.update({ where: { id: jobId }, data: done });
      if (job.callbackUrl) await this.outbox.enqueue(tx, 'delivery.webhook', { jobId }, { jobId: `webhook.${jobId}` });
      return { replayed: false, attempt: job.attempt, view: jobView({ ...job, ...done }, series.code, usage) };
    });
    if (!outcome.replayed) {
      this.outbox.poke();
      await this.nodes.finish(node.nodeId, nodeEntryId(jobId, outcome.attempt), body.leaseToken, 'completed');
    }
    return outcome;
  }
}
