import { Injectable } from '@nestjs/common';
import type { DeliveryJob, DeliveryObligation } from '../generated/prisma/client.js';
import type { SeriesWithProduct } from '../markets/markets.repository.js';
import { AuditRepository, unwritten, type AuditEntry, type SharedAuditEvent } from '../platform/audit/audit.repository.js';
import { BatchedTransactions } from '../platform/batching/batched-transactions.js';
import { fulfilled, rejected } from '../platform/batching/group-commit.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { Metrics } from '../platform/metrics/metrics.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { inOrder, type SqlTx } from '../platform/prisma/sql-tx.js';
import { OutboxService } from '../platform/queues/outbox.service.js';
import { DeliveryJobsRepository } from './delivery-jobs.repository.js';
import { DeliveryRepository } from './delivery.repository.js';
import { JobBatchRepository } from './job-batch.repository.js';
import { JobStream } from './job-stream.js';
import type { NewJob } from './job-batch.rows.js';

/**
 * Submissions taken into one transaction at most; bounds a batch's statements. Every submission
 * waits for the transactions queued ahead of its own, so the transaction's fixed cost (two round
 * trips, the thread hops) is paid per batch: at 400, bench:release1 gave 0.82–0.87× release 1
 * against 0.78–0.81× at 200 in the same hour (a batch of 400 took ~55 ms, one of 200 ~44 ms).
 */
const MAX_BATCH = 400;

/** A submission that passed the checks of fixed terms (model class, region, window). */
export interface Submission {
  id: string;
  /** The id derives from an Idempotency-Key (a replay may find it stored); else it is a fresh random UUID. */
  fromKey: boolean;
  buyerId: string;
  series: SeriesWithProduct;
  obligationId: string | null;
  modelClass: string;
  region: string | null;
  messages: unknown;
  maxTokens: number;
  callbackUrl: string | null;
  /**
   * Prompt tokens by the clearing house's count (SPEC §6.1), still being counted while the
   * submission waits for its batch: only the row needs it. A failed count is this submission's
   * refusal (settledLater: not an unhandled rejection while it waits).
   */
  countedPromptTokens: Promise<number>;
  /**
   * How its success is audited, committed with the job: a job alone, by the request's event with
   * the job as its target (filled in here); a job of a batch request, by the batch's one event.
   */
  audit?: AuditEntry | BatchSubmission;
}

/**
 * A batch request's jobs share this: its id (each job stores it), the one audit event that covers
 * them (targeting that id), and whether a committed transaction wrote that event yet.
 */
export interface BatchSubmission extends SharedAuditEvent {
  id: string;
}

/** A submission with its prompt counted. */
type Counted = Submission & { promptTokens: number };

const isBatch = (a: AuditEntry | BatchSubmission | undefined): a is BatchSubmission => a !== undefined && 'entry' in a;

export interface Submitted {
  job: DeliveryJob;
  /** Already stored under this id before (a replayed Idempotency-Key): nothing new was written. */
  replayed: boolean;
  audited: boolean;
}

const free = (o: DeliveryObligation) => o.tokens - o.deliveredTokens - o.reservedTokens;

/**
 * Group commit for job submissions: those that arrive while a batch is in its transaction go
 * together in the next — one lock of every obligation they draw on, one insert of the jobs with
 * their reservations, one outbox message that dispatches them all, one commit. Each submission
 * is judged in arrival order against the reservations of those before it, exactly as it would be
 * alone (the buyer's oldest open obligation with tokens left, counting in-flight jobs).
 */
@Injectable()
export class SubmissionBatcher {
  private readonly batches: BatchedTransactions<Submission, Submitted>;

  constructor(
    private readonly tx: TransactionRunner,
    private readonly jobs: JobBatchRepository,
    private readonly repo: DeliveryRepository,
    private readonly stored: DeliveryJobsRepository,
    private readonly outbox: OutboxService,
    private readonly audit: AuditRepository,
    private readonly stream: JobStream,
    metrics: Metrics,
  ) {
    this.batches = new BatchedTransactions({
      name: 'submission',
      items: 'delivery jobs submitted',
      metrics,
      maxItems: MAX_BATCH,
      transact: (items, lockFirst) => this.transact(items, lockFirst),
    });
  }

  submit(s: Submission): Promise<Submitted> {
    return this.batches.run(s);
  }

  /**
   * The batch's prompts finish counting while its first round trip (the obligations it draws on)
   * is on its way: only the write needs the counts. Counting first put the thread hop (and, under
   * load, the counting thread's queue) in series with every batch, which all submissions wait
   * on. A submission whose count failed is refused alone.
   */
  private async transact(items: Submission[], lockFirst: boolean): Promise<PromiseSettledResult<Submitted>[]> {
    const counting = Promise.allSettled(items.map((s) => s.countedPromptTokens));
    const written = await this.transactCounted(items, lockFirst, counting);
    let next = 0;
    return (await counting).map((c) => (c.status === 'fulfilled' ? written[next++] : c));
  }

  /** Writes the submissions of `all` whose count `counting` answers, awaited once the obligations are read. */
  private async transactCounted(
    all: Submission[],
    lockFirst: boolean,
    counting: Promise<PromiseSettledResult<number>[]>,
  ): Promise<PromiseSettledResult<Submitted>[]> {
    const pairs = [...new Map(all.map((s) => [`${s.buyerId}|${s.series.id}`, { buyerId: s.buyerId, seriesId: s.series.id }])).values()];
    const result = await this.tx.sql(async (tx, commit) => {
      // A batch reads its obligations unlocked and its write checks they still have room, so the
      // obligations' row locks are held only for the last round trip (completions credit the
      // same rows); one submission alone (how a batch that raced is stored again) locks up front,
      // as every batch does for a while once one raced.
      const [obligations, existing] = await inOrder([
        this.jobs.obligationsFor(tx, pairs, lockFirst),
        this.jobs.existingJobs(
          tx,
          all.filter((s) => s.fromKey).map((s) => s.id),
        ),
      ]);
      const counts = await counting;
      const items = all.flatMap((s, i) => {
        const c = counts[i];
        return c.status === 'fulfilled' ? [{ ...s, promptTokens: c.value }] : [];
      });
      if (items.length === 0) {
        await commit();
        return [];
      }
      let judged = judge(items, obligations, existing);
      // The buyer may have paid a margin call since (the deposit event is only a fast path):
      // check now, for buyers whose submissions would wait on a FUNDING obligation.
      const waiting = [
        ...new Set(judged.flatMap((j, i) => (j instanceof DomainError && j.code === 'OBLIGATION_FUNDING' ? [items[i].buyerId] : []))),
      ];
      if (waiting.length > 0) {
        let activated = 0;
        for (const buyerId of waiting) activated += await this.repo.activateFunded(tx, buyerId);
        if (activated > 0) judged = judge(items, await this.jobs.obligationsFor(tx, pairs, lockFirst), existing);
      }
      return this.write(tx, commit, items, judged);
    });
    if (result.some((r) => r.status === 'fulfilled' && !r.value.replayed)) this.outbox.poke();
    this.stream.written(result.flatMap((r) => (r.status === 'fulfilled' && !r.value.replayed ? [r.value.job] : [])));
    return result;
  }

  private async write(
    tx: SqlTx,
    commit: () => Promise<void>,
    items: Counted[],
    judged: (NewJob | DomainError | 'replayed')[],
  ): Promise<PromiseSettledResult<Submitted>[]> {
    const accepted = judged.flatMap((j) => (j instanceof DomainError || j === 'replayed' ? [] : [j]));
    // A job alone: its own event. A batch request: one event, with the first transaction that
    // commits any of its jobs (its jobs may be spread over consecutive transactions).
    const written = (i: number) => !(judged[i] instanceof DomainError || judged[i] === 'replayed');
    const submissions = unwritten(items.map((s, i) => (written(i) && isBatch(s.audit) ? s.audit : undefined)));
    // In arrival order (the chain's order): a batch's event at its first job here.
    const pending = new Set(submissions);
    const audits = items.flatMap((s, i) => {
      if (!written(i) || !s.audit) return [];
      if (!isBatch(s.audit)) return [{ ...s.audit, targetId: s.id }];
      return pending.delete(s.audit) ? [s.audit.entry] : [];
    });
    // The rows with their reservations, the one message that dispatches them all, the audit
    // last (its chain lock is held only for the commit), and the COMMIT: one round trip.
    const [rows] = await inOrder([
      accepted.length > 0 ? this.jobs.insertJobs(tx, accepted) : Promise.resolve([] as DeliveryJob[]),
      this.outbox.enqueueMany(
        tx,
        'delivery.dispatch-batch',
        accepted.length > 0
          ? [{ payload: { jobs: accepted.map((j) => ({ jobId: j.id, attempt: 0 })) }, jobId: `dispatch-batch.${accepted[0].id}` }]
          : [],
      ),
      this.audit.appendMany(tx, audits),
      commit(),
    ]);
    for (const s of submissions) s.audited = true;
    const byId = new Map(rows.map((r) => [r.id, r]));
    const replays = items.filter((_, i) => judged[i] === 'replayed').map((s) => s.id);
    const replayed = new Map((replays.length > 0 ? await this.stored.byIds(this.tx.root, replays) : []).map((r) => [r.id, r]));
    return items.map((s, i) => {
      const j = judged[i];
      if (j instanceof DomainError) return rejected(j);
      if (j === 'replayed') return fulfilled({ job: replayed.get(s.id)!, replayed: true, audited: false });
      return fulfilled({ job: byId.get(s.id)!, replayed: false, audited: s.audit !== undefined });
    });
  }
}

/**
 * Each submission in arrival order: the buyer's oldest OPEN obligation in the series (or the one
 * named) with tokens left after the reservations of in-flight jobs and of the submissions before
 * it; it reserves `maxTokens`, or what is left of the obligation (billing is capped there anyway).
 * Mutates the obligations' reservedTokens as it goes.
 */
function judge(items: Counted[], locked: DeliveryObligation[], existing: Set<string>): (NewJob | DomainError | 'replayed')[] {
  const obligations = locked.map((o) => ({ ...o }));
  const seen = new Set<string>();
  return items.map((s) => {
    if (existing.has(s.id) || seen.has(s.id)) return 'replayed';
    const mine = obligations.filter(
      (o) => o.buyerId === s.buyerId && o.seriesId === s.series.id && (s.obligationId === null || o.id === s.obligationId),
    );
    const pick = mine.find((o) => o.status === 'OPEN' && free(o) > 0n);
    if (!pick) {
      if (mine.some((o) => o.status === 'FUNDING'))
        return new DomainError('OBLIGATION_FUNDING', 'pay the margin call first: your escrow is not funded yet');
      return new DomainError('NO_ENTITLEMENT', `no tokens left to call in ${s.series.code} (in-flight jobs count)`);
    }
    const reserve = BigInt(s.maxTokens) < free(pick) ? BigInt(s.maxTokens) : free(pick);
    pick.reservedTokens += reserve;
    seen.add(s.id);
    return {
      id: s.id,
      buyerId: s.buyerId,
      seriesId: s.series.id,
      obligationId: pick.id,
      sellerId: pick.sellerId,
      modelClass: s.modelClass,
      region: s.region,
      messages: s.messages,
      maxTokens: s.maxTokens,
      reservedTokens: reserve,
      callbackUrl: s.callbackUrl,
      countedPromptTokens: s.promptTokens,
      submissionId: isBatch(s.audit) ? s.audit.id : null,
      decisions: [{ at: new Date().toISOString(), event: 'RESERVED', obligationId: pick.id, tokens: Number(reserve) }],
    };
  });
}
