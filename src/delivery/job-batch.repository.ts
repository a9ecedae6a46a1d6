import { Injectable } from '@nestjs/common';
import type { DeliveryJob, DeliveryObligation } from '../generated/prisma/client.js';
import type { RawSql } from '../platform/prisma/prisma.service.js';
import {
  toHotJob,
  toObligation,
  type Claim,
  type ClaimedJob,
  type CompletingJob,
  type DispatchJob,
  type Dispatched,
  type Metered,
  type NewJob,
  type ObligationDelta,
  type Rerun,
  type Row,
} from './job-batch.rows.js';

// The delivery hot path in set-based statements: one statement moves every job of a batch
// (submission, dispatch, lease, completion), whatever the batch holds. Results arrive as pg
// parses them (int8 as text), so rows are turned into the Prisma shapes the views expect
// (job-batch.rows.ts).

const str = (xs: bigint[]) => xs.map((x) => x.toString());
/**
 * Many JSON values as one JSON array parameter, unpacked in SQL by jsonb_array_elements: one
 * native JSON.stringify, where a jsonb[] of stringified values is escaped again element by element
 * (every JSON text holds quotes; SqlTx's arrayLiteral escapes only what needs it). Texts stay text[]:
 * pg's UTF-8 encoding turns a lone surrogate into U+FFFD, which jsonb would refuse.
 */
const jsonList = (xs: unknown[]) => JSON.stringify(xs);

// The updates below find their rows by id and check their state inside a CASE, which the planner
// cannot turn into an index search. As plain predicates, `status = 'DISPATCHED' AND "nodeId" = $n`
// match the (nodeId, status) index, whose estimate is tiny (most jobs are finished, or the table
// was not analyzed yet) while a busy node has thousands of jobs DISPATCHED: each claim then
// compared every one of them with every claimed id (30 ms for 64 jobs in the delivery bench).

@Injectable()
export class JobBatchRepository {
  /**
   * The open obligations of every (buyer, series) of a submission batch. `lock`: FOR UPDATE, in
   * one order (by id) so concurrent batches cannot deadlock; otherwise read as they stand, and
   * the reservations are checked again when written (`insertJobs`). Sorted in allocation order.
   */
  async obligationsFor(tx: RawSql, pairs: { buyerId: string; seriesId: string }[], lock: boolean): Promise<DeliveryObligation[]> {
    const buyers = pairs.map((p) => p.buyerId);
    const series = pairs.map((p) => p.seriesId);
    const rows = lock
      ? await tx.$queryRaw<Row[]>`
          SELECT o.* FROM delivery_obligations o
          WHERE (o."buyerId", o."seriesId") IN (SELECT * FROM unnest(${buyers}::uuid[], ${series}::uuid[])) AND o.status <> 'CLOSED'
          ORDER BY o.id FOR UPDATE`
      : await tx.$queryRaw<Row[]>`
          SELECT o.* FROM delivery_obligations o
          WHERE (o."buyerId", o."seriesId") IN (SELECT * FROM unnest(${buyers}::uuid[], ${series}::uuid[])) AND o.status <> 'CLOSED'`;
    return rows.map(toObligation).sort((a, b) => a.seq - b.seq);
  }

  /** Ids among `ids` that already exist (a submission replayed under its Idempotency-Key). */
  async existingJobs(db: RawSql, ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await db.$queryRaw<{ id: string }[]>`SELECT id FROM delivery_jobs WHERE id = ANY(${ids}::uuid[])`;
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Inserts the batch's jobs (QUEUED) and adds their reservations to the obligations — each
   * obligation still OPEN with room for them, or the statement fails (SQLSTATE TCR01) and the
   * transaction with it: the obligations changed since they were read unlocked.
   */
  async insertJobs(tx: RawSql, jobs: NewJob[]): Promise<DeliveryJob[]> {
    const f = <T>(pick: (j: NewJob) => T) => jobs.map(pick);
    const reserved = new Map<string, bigint>();
    for (const j of jobs) reserved.set(j.obligationId, (reserved.get(j.obligationId) ?? 0n) + j.reservedTokens);
    const rows = await tx.$queryRaw<{ id: string; seq: string; createdAt: Date }[]>`
      WITH reserve AS (
        UPDATE delivery_obligations o SET "reservedTokens" = o."reservedTokens" + r.tokens
        FROM unnest(${[...reserved.keys()]}::uuid[], ${str([...reserved.values()])}::bigint[]) AS r(id, tokens)
        WHERE o.id = r.id AND o.status = 'OPEN' AND o.tokens - o."deliveredTokens" - o."reservedTokens" >= r.tokens
        RETURNING o.id
      ), j AS (
        INSERT INTO delivery_jobs (id, "buyerId", "seriesId", "obligationId", "sellerId", "modelClass", region, messages, "maxTokens", "reservedTokens", "callbackUrl", decisions, "countedPromptTokens", "submissionId")
        SELECT id, buyer, sid, obligation, seller, model, region, messages, max_tokens, reserved, callback, decisions, counted_prompt, submission
        FROM ROWS FROM (
               unnest(${f((j) => j.id)}::uuid[], ${f((j) => j.buyerId)}::uuid[], ${f((j) => j.seriesId)}::uuid[], ${f((j) => j.obligationId)}::uuid[], ${f((j) => j.sellerId)}::uuid[],
                      ${f((j) => j.modelClass)}::text[], ${f((j) => j.region)}::text[], ${f((j) => j.maxTokens)}::int[],
                      ${str(f((j) => j.reservedTokens))}::bigint[], ${f((j) => j.callbackUrl)}::text[], ${f((j) => j.countedPromptTokens)}::int[], ${f((j) => j.submissionId)}::uuid[]),
               jsonb_array_elements(${jsonList(f((j) => j.messages))}::jsonb), jsonb_array_elements(${jsonList(f((j) => j.decisions))}::jsonb)) WITH ORDINALITY
             AS x(id, buyer, sid, obligation, seller, model, region, max_tokens, reserved, callback, counted_prompt, submission, messages, decisions, n)
        ORDER BY n
        RETURNING id, seq::text AS seq, "createdAt"
      )
      SELECT * FROM j
      WHERE CASE WHEN (SELECT count(*) FROM reserve) = ${reserved.size} THEN true ELSE ledger_refuse('TCR01', 'obligations changed while the submissions were judged') END`;
    // Only what the database assigned comes back; the rest is what was written.
    const assigned = new Map(rows.map((r) => [r.id, r]));
    return jobs.map((j) => {
      const r = assigned.get(j.id)!;
      // Spelled out: a spread followed by this many new keys costs ~17 µs a job in V8 (0.1 µs so).
      return {
        id: j.id,
        buyerId: j.buyerId,
        seriesId: j.seriesId,
        obligationId: j.obligationId,
        sellerId: j.sellerId,
        modelClass: j.modelClass,
        region: j.region,
        maxTokens: j.maxTokens,
        reservedTokens: j.reservedTokens,
        callbackUrl: j.callbackUrl,
        seq: BigInt(r.seq),
        status: 'QUEUED',
        attempt: 0,
        nodeId: null,
        leaseToken: null,
        leaseExpiresAt: null,
        triedNodes: [],
        decisions: j.decisions as DeliveryJob['decisions'],
        messages: j.messages as DeliveryJob['messages'],
        failureReason: null,
        failureCode: null,
        operatorFault: false,
        output: null,
        countedPromptTokens: j.countedPromptTokens,
        meteringFlagged: false,
        timingFlagged: false,
        verification: 'NONE',
        similarityBp: null,
        verifierNodeId: null,
        verifiesJobId: null,
        submissionId: j.submissionId,
        createdAt: r.createdAt,
        updatedAt: r.createdAt,
        dispatchedAt: null,
        leasedAt: null,
        finishedAt: null,
      };
    });
  }

  /**
   * The jobs of a dispatch batch as they stand (unlocked: the dispatch update re-checks their
   * state), with how often each already waited for capacity (its backoff).
   */
  async jobsToDispatch(db: RawSql, ids: string[]): Promise<DispatchJob[]> {
    const rows = await db.$queryRaw<Row[]>`
      SELECT j.id, j.status, j.attempt, j."seriesId", j."sellerId", j."obligationId", j."modelClass", j.region, j."triedNodes", j."nodeId", j."leaseToken",
             j."reservedTokens"::text AS "reservedTokens", j."callbackUrl", j."verifiesJobId",
             (SELECT o."sellerId" FROM delivery_jobs o WHERE o.id = j."verifiesJobId") AS "verifiesSellerId",
             (SELECT count(*) FROM jsonb_array_elements(j.decisions) d WHERE d->>'event' = 'NO_ELIGIBLE_NODE')::int AS waits
      FROM delivery_jobs j WHERE j.id = ANY(${ids}::uuid[])`;
    return rows.map((r) => ({
      ...toHotJob(r),
      waits: r.waits as number,
      verifiesJobId: r.verifiesJobId as string | null,
      verifiesSellerId: r.verifiesSellerId as string | null,
    }));
  }

  /** Jobs going round again later: their decision (when there is one) appended, the last 50 kept, and their progress time moved on. */
  async recordWaits(db: RawSql, waits: { id: string; decision: Record<string, unknown> | null }[]): Promise<void> {
    await db.$executeRaw`
      UPDATE delivery_jobs j SET "updatedAt" = now(),
        decisions = CASE WHEN w.decision IS NULL THEN j.decisions ELSE jsonb_path_query_array(j.decisions || jsonb_build_array(w.decision), '$[last-49 to last]') END
      FROM unnest(${waits.map((w) => w.id)}::uuid[], ${waits.map((w) => (w.decision ? JSON.stringify(w.decision) : null))}::jsonb[]) AS w(id, decision)
      WHERE j.id = w.id`;
  }

  /** QUEUED at the expected attempt → FAILED for the operator with `code`; returns the ids moved. */
  async failQueued(db: RawSql, code: string, jobs: { id: string; attempt: number; reason: string }[]): Promise<string[]> {
    const rows = await db.$queryRaw<{ id: string }[]>`
      UPDATE delivery_jobs j SET status = 'FAILED', "failureCode" = ${code}, "failureReason" = f.reason, "operatorFault" = true, "finishedAt" = now(), "updatedAt" = now()
      FROM unnest(${jobs.map((j) => j.id)}::uuid[], ${jobs.map((j) => j.attempt)}::int[], ${jobs.map((j) => j.reason)}::text[]) AS f(id, attempt, reason)
      WHERE j.id = f.id AND CASE WHEN j.status = 'QUEUED' AND j.attempt = f.attempt THEN true ELSE false END
      RETURNING j.id`;
    return rows.map((r) => r.id);
  }

  /** QUEUED at the expected attempt → DISPATCHED to its node, decision appended (last 50 kept); returns the ids moved. */
  async markDispatched(db: RawSql, rows: Dispatched[]): Promise<Set<string>> {
    if (rows.length === 0) return new Set();
    const moved = await db.$queryRaw<{ id: string }[]>`
      UPDATE delivery_jobs j SET status = 'DISPATCHED', "nodeId" = d.node, "dispatchedAt" = now(), "updatedAt" = now(),
        "sellerId" = COALESCE(d.seller, j."sellerId"),
        decisions = jsonb_path_query_array(j.decisions || jsonb_build_array(d.decision), '$[last-49 to last]')
      FROM ROWS FROM (unnest(${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => r.attempt)}::int[], ${rows.map((r) => r.nodeId)}::uuid[], ${rows.map((r) => r.sellerId ?? null)}::uuid[]),
                      jsonb_array_elements(${jsonList(rows.map((r) => r.decision))}::jsonb)) AS d(id, attempt, node, seller, decision)
      WHERE j.id = d.id AND CASE WHEN j.status = 'QUEUED' AND j.attempt = d.attempt THEN true ELSE false END
      RETURNING j.id`;
    return new Set(moved.map((r) => r.id));
  }

  /**
   * Records the leases of entries taken from a node's queue; entries whose job moved on are left
   * out. Answers each leased job with every column its stream event shows (JobStream.committed).
   */
  async claim(db: RawSql, nodeId: string, leaseMs: number, claims: Claim[]): Promise<ClaimedJob[]> {
    return db.$queryRaw<ClaimedJob[]>`
      UPDATE delivery_jobs j SET status = 'LEASED', "leaseToken" = c.token, "leasedAt" = now(), "updatedAt" = now(),
        "leaseExpiresAt" = now() + ${leaseMs}::int * interval '1 millisecond'
      FROM unnest(${claims.map((c) => c.id)}::uuid[], ${claims.map((c) => c.attempt)}::int[], ${claims.map((c) => c.token)}::text[]) AS c(id, attempt, token)
      WHERE j.id = c.id AND CASE WHEN j.attempt = c.attempt AND j.status = 'DISPATCHED' AND j."nodeId" = ${nodeId}::uuid THEN true ELSE false END
      RETURNING j.id, j."leaseToken", j."leaseExpiresAt", j."modelClass", j.messages, j."maxTokens", j."seriesId", j."verifiesJobId",
        j."buyerId", j."sellerId", j."obligationId", j.region, j.status::text AS status, j.attempt, j."nodeId", j."failureCode", j."failureReason",
        j."operatorFault", j."meteringFlagged", j."timingFlagged", j.verification::text AS verification, j."similarityBp", j."verifierNodeId",
        j."callbackUrl", j."createdAt", j."dispatchedAt", j."leasedAt", j."finishedAt"`;
  }

  /**
   * Which of these lease tokens still lease a job (an entry is finished once its token leases
   * none). Through the index of running leases' tokens: as a plain predicate, `status = 'LEASED'`
   * lets the planner pick the (status, leaseExpiresAt) index whenever its statistics think few
   * jobs are leased, and walk every leased job (3.7 ms a call in bench:delivery).
   */
  async openLeases(db: RawSql, tokens: string[]): Promise<Set<string>> {
    const rows = await db.$queryRaw<{ leaseToken: string }[]>`
      SELECT DISTINCT "leaseToken" FROM delivery_jobs
      WHERE "leaseToken" = ANY(${tokens}::text[]) AND "leaseExpiresAt" IS NOT NULL AND CASE WHEN status = 'LEASED' THEN true ELSE false END`;
    return new Set(rows.map((r) => r.leaseToken));
  }

  /**
   * Locks the jobs of a completion batch and reads their obligations — locked too when `lock`
   * (jobs first, each set by id, as every path does); otherwise `recordCompletions` checks they
   * did not change before it writes.
   */
  async lockForCompletion(
    tx: RawSql,
    jobIds: string[],
    lock: boolean,
  ): Promise<{ jobs: CompletingJob[]; obligations: DeliveryObligation[] }> {
    const jobs = tx.$queryRaw<Row[]>`
      SELECT j.id, j.status, j.attempt, j."seriesId", j."sellerId", j."buyerId", j."obligationId", j."modelClass", j.region, j."triedNodes", j."nodeId", j."leaseToken",
             j."reservedTokens"::text AS "reservedTokens", j."callbackUrl", j."maxTokens", j."leasedAt", j."countedPromptTokens", j."verifiesJobId",
             j."createdAt", j."dispatchedAt", j."failureCode", j."failureReason", j."operatorFault", j.verification::text AS verification,
             j."similarityBp", j."verifierNodeId"
      FROM delivery_jobs j WHERE j.id = ANY(${jobIds}::uuid[]) ORDER BY j.id FOR UPDATE`;
    // obligationId never changes after insert: reading it unlocked is safe.
    const obligations = lock
      ? tx.$queryRaw<Row[]>`
          SELECT o.* FROM delivery_obligations o
          WHERE o.id IN (SELECT "obligationId" FROM delivery_jobs WHERE id = ANY(${jobIds}::uuid[])) ORDER BY o.id FOR UPDATE`
      : tx.$queryRaw<
          Row[]
        >`SELECT o.* FROM delivery_obligations o WHERE o.id IN (SELECT "obligationId" FROM delivery_jobs WHERE id = ANY(${jobIds}::uuid[]))`;
    const [j, o] = await Promise.all([jobs, obligations]);
    return { jobs: j.map((r) => toHotJob(r) as CompletingJob), obligations: o.map(toObligation) };
  }

  /**
   * The usage records, the obligations' deliveries and the jobs COMPLETED, in one statement —
   * provided each obligation's delivered tokens and released fen are still what the batch metered
   * from (`before`), or the statement fails (SQLSTATE TCR01) and the transaction with it.
   */
  async recordCompletions(
    tx: RawSql,
    metered: Metered[],
    deltas: ObligationDelta[],
  ): Promise<Map<string, { id: string; createdAt: Date; finishedAt: Date }>> {
    const m = <T>(pick: (x: Metered) => T) => metered.map(pick);
    const rows = await tx.$queryRaw<{ jobId: string; id: string; createdAt: Date }[]>`
      WITH usage AS (
        INSERT INTO usage_records (id, "jobId", "obligationId", "nodeId", "operatorId", "promptTokens", "completionTokens", "billableTokens", "creditedTokens", "excessTokens", "releasedFen", "ttftMs", "durationMs", "ttftBreach", "rateBreach",
                                   "reportedPromptTokens", "reportedCompletionTokens", "reportedTtftMs", "reportedDurationMs", "usageEstimated", tokenizer, "discrepancyBp", "outputSha256")
        SELECT gen_random_uuid(), * FROM unnest(${m((x) => x.jobId)}::uuid[], ${m((x) => x.obligationId)}::uuid[], ${m((x) => x.nodeId)}::uuid[], ${m((x) => x.operatorId)}::uuid[],
          ${str(m((x) => x.promptTokens))}::bigint[], ${str(m((x) => x.completionTokens))}::bigint[], ${str(m((x) => x.billableTokens))}::bigint[], ${str(m((x) => x.creditedTokens))}::bigint[],
          ${str(m((x) => x.excessTokens))}::bigint[], ${str(m((x) => x.releasedFen))}::bigint[], ${m((x) => x.ttftMs)}::int[], ${m((x) => x.durationMs)}::int[], ${m((x) => x.ttftBreach)}::boolean[], ${m((x) => x.rateBreach)}::boolean[],
          ${m((x) => String(x.reportedPromptTokens))}::bigint[], ${m((x) => String(x.reportedCompletionTokens))}::bigint[], ${m((x) => x.reportedTtftMs)}::int[], ${m((x) => x.reportedDurationMs)}::int[],
          ${m((x) => x.usageEstimated)}::boolean[], ${m((x) => x.tokenizer)}::text[], ${m((x) => x.discrepancyBp)}::int[], ${m((x) => x.outputSha256)}::text[])
        RETURNING "jobId", id, "createdAt"
      ), obligations AS (
        UPDATE delivery_obligations o SET "deliveredTokens" = d.delivered, "reservedTokens" = o."reservedTokens" - d.unreserve,
          "excessTokens" = o."excessTokens" + d.excess, "releasedFen" = o."releasedFen" + d.released
        FROM unnest(${deltas.map((d) => d.id)}::uuid[], ${str(deltas.map((d) => d.deliveredTokens))}::bigint[], ${str(deltas.map((d) => d.unreserve))}::bigint[],
                    ${str(deltas.map((d) => d.excess))}::bigint[], ${str(deltas.map((d) => d.releasedFen))}::bigint[],
                    ${str(deltas.map((d) => d.before.deliveredTokens))}::bigint[], ${str(deltas.map((d) => d.before.releasedFen))}::bigint[]) AS d(id, delivered, unreserve, excess, released, delivered_before, released_before)
        WHERE o.id = d.id AND o."deliveredTokens" = d.delivered_before AND o."releasedFen" = d.released_before
        RETURNING 1
      ), jobs AS (
        UPDATE delivery_jobs j SET status = 'COMPLETED', output = c.output, "finishedAt" = now(), "updatedAt" = now(), "leaseExpiresAt" = NULL,
          "meteringFlagged" = c.metering_flag, "timingFlagged" = c.timing_flag,
          verification = CASE WHEN c.verify THEN 'PENDING'::"VerificationStatus" ELSE j.verification END
        FROM unnest(${m((x) => x.jobId)}::uuid[], ${m((x) => x.output)}::text[], ${m((x) => x.meteringFlagged)}::boolean[], ${m((x) => x.timingFlagged)}::boolean[],
                    ${m((x) => x.verify)}::boolean[])
             AS c(id, output, metering_flag, timing_flag, verify)
        WHERE j.id = c.id
      )
      SELECT * FROM usage
      WHERE CASE WHEN (SELECT count(*) FROM obligations) = ${deltas.length} THEN true ELSE ledger_refuse('TCR01', 'obligations changed while the completions were metered') END`;
    return new Map(rows.map((r) => [r.jobId, { id: r.id, createdAt: r.createdAt, finishedAt: r.createdAt }]));
  }

  /** Verification re-runs COMPLETED with their output; the worker job that judges them does the rest. */
  async recordReruns(tx: RawSql, reruns: Rerun[]): Promise<void> {
    await tx.$executeRaw`
      UPDATE delivery_jobs j SET status = 'COMPLETED', output = c.output, "finishedAt" = now(), "updatedAt" = now(), "leaseExpiresAt" = NULL
      FROM unnest(${reruns.map((r) => r.jobId)}::uuid[], ${reruns.map((r) => r.output)}::text[]) AS c(id, output)
      WHERE j.id = c.id`;
  }
}
