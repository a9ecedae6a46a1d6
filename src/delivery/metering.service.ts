import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { NodePrincipal } from '../capacity/node-token.guard.js';
import type { DeliveryObligation } from '../generated/prisma/client.js';
import { LedgerService } from '../ledger/ledger.service.js';
import { AuditRepository, unwritten, type SharedAuditEvent } from '../platform/audit/audit.repository.js';
import { memberAccount, type TransferRequest } from '../ledger/ledger.types.js';
import { ListingCache } from '../markets/listing-cache.js';
import { BatchedTransactions } from '../platform/batching/batched-transactions.js';
import { fulfilled, rejected } from '../platform/batching/group-commit.js';
import { Metrics } from '../platform/metrics/metrics.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { inOrder, type SqlTx } from '../platform/prisma/sql-tx.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { Clock } from '../platform/time/clock.js';
import { meter } from './domain/metering.js';
import { boundTimings, verifyUsage } from './domain/verified-usage.js';
import { TokenCounter } from './counting/token-counter.js';
import { createHash } from 'node:crypto';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import type { CompleteJobDto } from './dto/delivery.dto.js';
import { JobBatchRepository } from './job-batch.repository.js';
import { JobStream } from './job-stream.js';
import type { JobEventRow } from './job-events.repository.js';
import { completedEvent, type CompletingJob, type Metered, type ObligationDelta, type Rerun } from './job-batch.rows.js';
import { selectedForVerification } from './domain/verification.js';
import { assertHoldsLease } from './lease.service.js';
import { NodeQueues } from './node-queues.js';

/** Completions applied in one transaction at most; bounds a batch's statements. */
const MAX_BATCH = 200;

interface Completion {
  node: NodePrincipal;
  jobId: string;
  body: CompleteJobDto;
  /** The report's audit row (one for all its completions), written with the first that commits. */
  audit?: SharedAuditEvent;
}

export interface CompletionOutcome {
  /** The same completion was applied before: nothing changed now. */
  replayed: boolean;
  attempt: number;
}

/**
 * Applies completions exactly once: the job row (locked, lease checked), the usage record
 * (unique per job), the obligation's delivered tokens and the escrow release are one
 * transaction. The same completion again (same lease token) changes nothing and answers the
 * same; a completion under a lease that is no longer current is refused.
 *
 * Completions are group-committed: those that arrive while a batch is in its transaction go
 * together in the next — one lock statement, one write, one ledger posting, one commit — judged
 * one by one in arrival order against the state the batch has built so far (an obligation's
 * cumulative release, a duplicate of a completion earlier in the batch).
 */
@Injectable()
export class MeteringService implements OnApplicationShutdown {
  private readonly logger = new Logger(MeteringService.name);
  private readonly completions: BatchedTransactions<Completion, CompletionOutcome>;
  /** Node-queue entries to mark done after their completion committed (best effort, off the response). */
  private finishing = Promise.resolve();

  constructor(
    private readonly tx: TransactionRunner,
    private readonly batches: JobBatchRepository,
    private readonly listings: ListingCache,
    private readonly ledger: LedgerService,
    private readonly nodes: NodeQueues,
    private readonly outbox: OutboxService,
    private readonly clock: Clock,
    private readonly counter: TokenCounter,
    private readonly stream: JobStream,
    private readonly audit: AuditRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    metrics: Metrics,
  ) {
    this.completions = new BatchedTransactions({
      name: 'completion',
      items: 'job completions',
      metrics,
      maxItems: MAX_BATCH,
      transact: (items, lockFirst) => this.transact(items, lockFirst),
    });
  }

  complete(node: NodePrincipal, jobId: string, body: CompleteJobDto, audit?: SharedAuditEvent): Promise<CompletionOutcome> {
    return this.completions.run({ node, jobId, body, audit });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.finishing;
  }

  private async transact(items: Completion[], lockFirst: boolean): Promise<PromiseSettledResult<CompletionOutcome>[]> {
    const applied = await this.tx.sql(async (tx, commit) => {
      // A batch reads its obligations unlocked and checks them as it writes, so the obligation's
      // row lock is held only for the last round trip (submissions reserve on the same row); one
      // completion alone (how a batch that raced is applied again) locks them up front, as every
      // batch does for a while once one raced.
      const { jobs, obligations } = await this.batches.lockForCompletion(tx, [...new Set(items.map((i) => i.jobId))], lockFirst);
      return this.apply(tx, commit, items, new Map(jobs.map((j) => [j.id, j])), new Map(obligations.map((o) => [o.id, o])));
    });
    const outcomes = applied.results;
    const done = outcomes.flatMap((o, i) =>
      o.status === 'fulfilled' && !o.value.replayed ? [{ node: items[i].node.nodeId, token: items[i].body.leaseToken }] : [],
    );
    // Metered jobs' events from the batch's own rows; verification re-runs are read back.
    this.stream.committed(applied.events);
    this.stream.changed(applied.reruns);
    if (done.length > 0) {
      this.outbox.poke();
      // The entries are done for Postgres already; telling BullMQ need not hold the answer back.
      // An entry (a chunk of jobs under one lease) is done once its token leases no job.
      this.finishing = this.finishing
        .then(() => this.finishEntries(done))
        .catch((err: Error) => this.logger.debug({ err: err.message }, 'node queue entries not finished; harmless'));
    }
    return outcomes;
  }

  private async finishEntries(done: { node: string; token: string }[]): Promise<void> {
    const leases = new Map(done.map((d) => [d.token, d.node]));
    const open = await this.batches.openLeases(this.tx.statements, [...leases.keys()]);
    await Promise.all(
      [...leases].filter(([token]) => !open.has(token)).map(([token, node]) => this.nodes.finishLease(node, token, 'completed')),
    );
  }

  /**
   * Judges the batch in arrival order on the locked rows, then writes it all with the COMMIT.
   * Answers each item's outcome, the metered jobs as committed (their stream events) and the
   * verification re-runs it completed.
   */
  private async apply(
    tx: SqlTx,
    commit: () => Promise<void>,
    items: Completion[],
    jobs: Map<string, CompletingJob>,
    obligations: Map<string, DeliveryObligation>,
  ): Promise<{ results: PromiseSettledResult<CompletionOutcome>[]; events: JobEventRow[]; reruns: string[] }> {
    const businessDate = this.clock.businessDate();
    const results: PromiseSettledResult<CompletionOutcome>[] = [];
    const metered: Metered[] = [];
    const deltas = new Map<string, ObligationDelta>();
    const transfers: TransferRequest[] = [];
    const webhooks: { payload: { jobId: string }; jobId: string }[] = [];
    const reruns: Rerun[] = [];
    /** Verification work goes to worker jobs: creating a re-run (a job selected) or judging one (a re-run completed). */
    const toVerify: string[] = [];
    const toJudge: { payload: { jobId: string }; jobId: string }[] = [];
    // The clearing house's count of every output this batch may pay for, asked together: one
    // counting task off the event loop for the batch (CountingPool), not one wait per job. Reports
    // on a lease the job does not hold (or replays) are not counted: they are refused or answered below.
    const counted = await Promise.all(
      items.map(async ({ jobId, body }) => {
        const job = jobs.get(jobId);
        if (!job || job.verifiesJobId || job.status === 'COMPLETED' || job.leaseToken !== body.leaseToken) return undefined;
        return this.counter.completion((await this.listings.seriesById(job.seriesId))!.product, body.output);
      }),
    );
    for (const [index, { node, jobId, body }] of items.entries()) {
      const existing = jobs.get(jobId);
      if (existing?.status === 'COMPLETED' && existing.leaseToken === body.leaseToken && existing.sellerId === node.operatorId) {
        results.push(fulfilled({ replayed: true, attempt: existing.attempt }));
        continue;
      }
      let job: CompletingJob;
      try {
        job = assertHoldsLease(node, existing, body.leaseToken);
      } catch (err) {
        results.push(rejected(err));
        continue;
      }
      if (job.verifiesJobId) {
        // A verification re-run: no buyer money, nothing metered against the obligation here.
        reruns.push({ jobId, output: body.output });
        toJudge.push({ payload: { jobId }, jobId: `verification-judge.${jobId}` });
        job.status = 'COMPLETED';
        results.push(fulfilled({ replayed: false, attempt: job.attempt }));
        continue;
      }
      // The product's terms (input weight, quality floors) never change: cached listing.
      const series = (await this.listings.seriesById(job.seriesId))!;
      const product = series.product;
      const o = obligations.get(job.obligationId)!;
      // Taken before this completion changes `o`: the state the batch read.
      const d = deltas.get(o.id) ?? {
        id: o.id,
        before: { deliveredTokens: o.deliveredTokens, releasedFen: o.releasedFen },
        deliveredTokens: 0n,
        unreserve: 0n,
        excess: 0n,
        releasedFen: 0n,
      };
      // The clearing house owns the meter (SPEC §6.1): billable tokens come from its own count of
      // the output and of the prompt (counted at submission), completion capped at maxTokens —
      // never from the node's report, which is kept beside the count.
      const countedCompletion = counted[index] ?? (await this.counter.completion(product, body.output));
      const reported = { promptTokens: body.usage.prompt_tokens, completionTokens: body.usage.completion_tokens };
      const usage = verifyUsage({
        // Jobs submitted before the count existed have no counted prompt: their report stands for it.
        counted: { promptTokens: job.countedPromptTokens ?? reported.promptTokens, completionTokens: countedCompletion },
        reported,
        maxTokens: job.maxTokens,
        inputTokenWeightBp: product.inputTokenWeightBp,
        toleranceBp: product.meteringToleranceBp,
      });
      const timings = boundTimings({
        reportedTtftMs: body.ttftMs,
        reportedDurationMs: body.durationMs,
        // Physical time, as Postgres stamped the lease (now()), not the business clock (which
        // tests and replays may set): how long the node really had the job.
        leaseToReportMs: job.leasedAt ? Date.now() - job.leasedAt.getTime() : body.durationMs,
        completionTokens: usage.paidCompletionTokens,
        maxTokensPerSecond: this.config.delivery.maxPlausibleTokensPerSecond,
      });
      const billable = usage.billableTokens;
      const m = meter(o, billable);
      const row: Metered = {
        jobId,
        obligationId: o.id,
        nodeId: node.nodeId,
        operatorId: node.operatorId,
        promptTokens: BigInt(usage.counted.promptTokens),
        completionTokens: BigInt(usage.paidCompletionTokens),
        billableTokens: billable,
        creditedTokens: m.credited,
        excessTokens: m.excess,
        releasedFen: m.releaseFen,
        ttftMs: timings.ttftMs,
        durationMs: timings.durationMs,
        // SLA verdicts on the bounded timings and the counted tokens.
        ttftBreach: timings.ttftMs > product.maxTtftMs,
        // Rate = completion tokens / duration; compared without division: tokens × 1000 < floor × ms.
        rateBreach:
          timings.durationMs > 0 &&
          BigInt(usage.paidCompletionTokens) * 1000n < BigInt(product.minTokensPerSecond) * BigInt(timings.durationMs),
        output: body.output,
        reportedPromptTokens: reported.promptTokens,
        reportedCompletionTokens: reported.completionTokens,
        reportedTtftMs: body.ttftMs,
        reportedDurationMs: body.durationMs,
        usageEstimated: body.usageEstimated === true,
        tokenizer: this.counter.tokenizerOf(product),
        discrepancyBp: usage.discrepancyBp,
        outputSha256: createHash('sha256').update(body.output).digest('hex'),
        // An estimate that says so is not a discrepancy; a report that claims to be a count is.
        meteringFlagged: usage.discrepancy && body.usageEstimated !== true,
        timingFlagged: timings.impossible,
        verify: selectedForVerification(jobId, product.verificationBp, this.config.delivery.verificationSamplingKey),
      };
      metered.push(row);
      if (row.verify) toVerify.push(jobId);
      // The next completion of this obligation in the batch meters on from here.
      o.deliveredTokens = m.deliveredAfter;
      o.releasedFen += m.releaseFen;
      o.excessTokens += m.excess;
      o.reservedTokens -= job.reservedTokens;
      deltas.set(o.id, {
        ...d,
        deliveredTokens: m.deliveredAfter,
        unreserve: d.unreserve + job.reservedTokens,
        excess: d.excess + m.excess,
        releasedFen: d.releasedFen + m.releaseFen,
      });
      if (m.releaseFen > 0n) {
        transfers.push({
          idempotencyKey: `deliver.${jobId}.release`,
          debit: memberAccount(o.buyerId, 'ESCROW'),
          credit: memberAccount(o.sellerId, 'CASH'),
          amountFen: m.releaseFen,
          kind: 'ESCROW_RELEASE',
          businessDate,
          refs: { obligationId: o.id, jobId },
          reference: `${m.credited} tokens delivered`,
        });
      }
      // A second completion of this job later in the batch is a replay (or refused).
      job.status = 'COMPLETED';
      if (job.callbackUrl) webhooks.push({ payload: { jobId }, jobId: `webhook.${jobId}` });
      results.push(fulfilled({ replayed: false, attempt: job.attempt }));
    }
    if (metered.length === 0 && reruns.length === 0) return { results, events: [], reruns: [] };
    // The reports with a completion applied here and no audit row yet: theirs goes in this
    // transaction, last (the audit chain's lock is then held only for the COMMIT).
    const reports = unwritten(
      items.map(({ audit }, i) => {
        const r = results[i];
        return r.status === 'fulfilled' && !r.value.replayed ? audit : undefined;
      }),
    );
    // One round trip to the end: the rows, the money (a refusal fails its statement, and the
    // COMMIT behind it then rolls back), the webhooks and the COMMIT.
    const none = Promise.resolve();
    const [recorded] = await inOrder([
      metered.length > 0
        ? this.batches.recordCompletions(tx, metered, [...deltas.values()])
        : Promise.resolve(new Map<string, { finishedAt: Date }>()),
      reruns.length > 0 ? this.batches.recordReruns(tx, reruns) : none,
      transfers.length > 0 ? this.ledger.postBatch(tx, transfers) : none,
      this.outbox.enqueueMany(tx, 'delivery.webhook', webhooks),
      // One message creates the batch's re-runs together (one transaction, one dispatch message).
      toVerify.length > 0
        ? this.outbox.enqueueMany(tx, 'delivery.verification-create', [
            { payload: { jobIds: toVerify }, jobId: `verification-create.${toVerify[0]}` },
          ])
        : none,
      toJudge.length > 0 ? this.outbox.enqueueMany(tx, 'delivery.verification-judge', toJudge) : none,
      this.audit.appendMany(
        tx,
        reports.map((r) => r.entry),
      ),
      commit(),
    ]);
    for (const r of reports) r.audited = true;
    return {
      results,
      events: metered.map((row) => completedEvent(jobs.get(row.jobId)!, row, recorded.get(row.jobId)!.finishedAt)),
      reruns: reruns.map((r) => r.jobId),
    };
  }
}
