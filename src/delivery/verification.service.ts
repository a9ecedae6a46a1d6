import { Injectable, Logger } from '@nestjs/common';
import { LedgerService } from '../ledger/ledger.service.js';
import { HOUSE, memberAccount, type TransferRequest } from '../ledger/ledger.types.js';
import { ListingCache } from '../markets/listing-cache.js';
import { inOrder } from '../platform/prisma/sql-tx.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import type { JobPayloads } from '../platform/queues/job-registry.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { Clock } from '../platform/time/clock.js';
import { TokenCounter } from './counting/token-counter.js';
import { billableTokens } from './domain/metering.js';
import { tokenSimilarityBp } from './domain/similarity.js';
import { valueAtObligationPrice, verdict, verificationPenaltyFen } from './domain/verification.js';
import { VerificationRepository } from './verification.repository.js';

/** Outputs up to this many tokens together get an exact similarity (≤ 6.4 × 10⁷ steps). */
const EXACT_SIMILARITY_TOKENS = 8_000;

/**
 * Verification by re-execution (SPEC §6.1), off the delivery hot path: the completion batch only
 * marks a selected job PENDING and leaves an outbox message; these worker jobs create the re-run
 * and, once another operator's node completed it, judge it.
 *
 * Money: the verifier is paid from ccp:fees at the obligation price for the counted billable
 * tokens of its run (kind FEE). ccp:fees is not mustNotGoNegative (ledger migration): when the fees
 * collected so far are short it goes negative — the CCP fronts the cost of its own control rather
 * than leaving the verifier unpaid or the verdict waiting. On FAILED the original's seller pays
 * the buyer the product's penaltyBp of the job's value, collected by right (may take its cash
 * below zero: a margin call, like window-close penalties). Both idempotent by job id.
 */
@Injectable()
export class VerificationService {
  private readonly logger = new Logger(VerificationService.name);

  constructor(
    private readonly tx: TransactionRunner,
    private readonly repo: VerificationRepository,
    private readonly listings: ListingCache,
    private readonly counter: TokenCounter,
    private readonly ledger: LedgerService,
    private readonly outbox: OutboxService,
    private readonly clock: Clock,
  ) {}

  @JobHandler('delivery.verification-create')
  async create({ jobIds }: JobPayloads['delivery.verification-create']): Promise<string> {
    // A pg transaction (SqlTx), not a Prisma one: one runs for every completion batch that picked
    // a job to verify, and Prisma's interactive transaction cost several times its statements.
    const created = await this.tx.sql(async (tx, commit) => {
      // Locked first, then the re-runs inserted for those still without one: a second delivery of
      // this message (or a judge racing it) waits on the lock and then sees the re-runs.
      const pending = await this.repo.lockPending(tx, jobIds);
      if (pending.length === 0) return [];
      const ids = await this.repo.insertReruns(tx, pending);
      if (ids.length > 0)
        await inOrder([
          this.outbox.enqueue(
            tx,
            'delivery.dispatch-batch',
            { jobs: ids.map((id) => ({ jobId: id, attempt: 0 })) },
            { jobId: `dispatch-batch.${ids[0]}` },
          ),
          commit(),
        ]);
      return ids;
    });
    if (created.length > 0) this.outbox.poke();
    return `created ${created.length} of ${jobIds.length}`;
  }

  @JobHandler('delivery.verification-judge')
  async judge({ jobId }: JobPayloads['delivery.verification-judge']): Promise<string> {
    return this.tx.run(async (tx) => {
      const rerun = await this.repo.rerun(tx, jobId);
      if (!rerun || rerun.status !== 'COMPLETED') return 'not-completed';
      const original = await this.repo.lockOriginal(tx, rerun.verifiesJobId);
      if (!original || original.verification !== 'PENDING') return 'judged';
      const product = (await this.listings.seriesById(original.seriesId))!.product;
      const [a, b] = await this.counter.tokens(product, [original.output ?? '', rerun.output ?? '']);
      // Exact for outputs of usual length; for long ones the search (O((n+m)·D)) stops once the
      // similarity is proved under half the threshold, answering 0: the verdict is the same.
      const floorBp = a.length + b.length <= EXACT_SIMILARITY_TOKENS ? 0 : Math.floor(product.verificationThresholdBp / 2);
      const similarityBp = tokenSimilarityBp(a, b, floorBp);
      const outcome = verdict(similarityBp, product.verificationThresholdBp);

      // The verifier's run, counted as any completion is (prompt counted at submission, output capped at maxTokens).
      const prompt =
        original.countedPromptTokens ?? (await this.counter.prompt(product, original.messages as { role: string; content: string }[]));
      const completion = Math.min(await this.counter.completion(product, rerun.output ?? ''), original.maxTokens);
      const verifierTokens = billableTokens(BigInt(prompt), BigInt(completion), product.inputTokenWeightBp);
      const terms = { notionalFen: original.notionalFen, tokens: original.obligationTokens };
      const businessDate = this.clock.businessDate();
      const transfers: TransferRequest[] = [];
      const fee = valueAtObligationPrice(terms, verifierTokens);
      if (fee > 0n)
        transfers.push({
          idempotencyKey: `verify.${rerun.id}.fee`,
          debit: HOUSE.ccpFees,
          credit: memberAccount(rerun.sellerId, 'CASH'),
          amountFen: fee,
          kind: 'FEE',
          businessDate,
          refs: { jobId: rerun.id },
          reference: `verification of job ${original.id}: ${verifierTokens} tokens`,
        });
      const penalty = outcome === 'FAILED' ? verificationPenaltyFen(terms, original.billableTokens, product.penaltyBp) : 0n;
      if (penalty > 0n)
        transfers.push({
          idempotencyKey: `verify.${original.id}.penalty`,
          debit: memberAccount(original.sellerId, 'CASH'),
          credit: memberAccount(original.buyerId, 'CASH'),
          amountFen: penalty,
          kind: 'PENALTY',
          businessDate,
          refs: { jobId: original.id },
          reference: `verification failed: ${similarityBp} bp similar (threshold ${product.verificationThresholdBp})`,
          collectByRight: true,
        });
      await this.repo.recordVerdict(tx, { jobId: original.id, verdict: outcome, similarityBp, verifierNodeId: rerun.nodeId });
      if (transfers.length > 0) await this.ledger.post(tx, transfers);
      this.logger.log(
        { job: original.id, rerun: rerun.id, similarityBp, verdict: outcome, fee: fee.toString(), penalty: penalty.toString() },
        'verified',
      );
      return `${outcome}:${similarityBp}`;
    });
  }
}
