import { Injectable } from '@nestjs/common';
import type { DeliveryJobStatus, VerificationStatus } from '../generated/prisma/enums.js';
import type { RawSql } from '../platform/prisma/prisma.service.js';
import type { JobViewFields, UsageViewFields } from './delivery-views.js';

/** A job as its stream event needs it: the view's columns, who may see it, and its usage. */
export interface JobEventRow {
  job: JobViewFields & { buyerId: string; sellerId: string; seriesId: string };
  usage: UsageViewFields | null;
}

interface Row {
  id: string;
  buyerId: string;
  sellerId: string;
  seriesId: string;
  obligationId: string;
  modelClass: string;
  region: string | null;
  maxTokens: number;
  status: string;
  attempt: number;
  nodeId: string | null;
  leaseExpiresAt: Date | null;
  failureCode: string | null;
  failureReason: string | null;
  operatorFault: boolean;
  meteringFlagged: boolean;
  timingFlagged: boolean;
  verification: string;
  similarityBp: number | null;
  verifierNodeId: string | null;
  callbackUrl: string | null;
  createdAt: Date;
  dispatchedAt: Date | null;
  leasedAt: Date | null;
  finishedAt: Date | null;
  // usage_records (null when the job has none); int8 read as text, made bigint here
  promptTokens: string | null;
  completionTokens: string;
  billableTokens: string;
  creditedTokens: string;
  excessTokens: string;
  releasedFen: string;
  ttftMs: number;
  durationMs: number;
  ttftBreach: boolean;
  rateBreach: boolean;
  reportedPromptTokens: string;
  reportedCompletionTokens: string;
  reportedTtftMs: number;
  reportedDurationMs: number;
  usageEstimated: boolean;
  tokenizer: string | null;
  discrepancyBp: number;
  outputSha256: string | null;
}

/**
 * The read behind the `jobs` stream channel (JobStream): one statement per round for the jobs a
 * commit changed, with their usage joined, and only the columns an event shows — not the
 * messages, output or decision log, which the event leaves out (through Prisma, reading whole
 * rows of two tables, this read was the largest share of the API's CPU under bench:delivery).
 */
@Injectable()
export class JobEventsRepository {
  async byIds(db: RawSql, ids: string[]): Promise<JobEventRow[]> {
    if (ids.length === 0) return [];
    const rows = await db.$queryRaw<Row[]>`
      SELECT j.id, j."buyerId", j."sellerId", j."seriesId", j."obligationId", j."modelClass", j.region, j."maxTokens",
             j.status::text AS status, j.attempt, j."nodeId", j."leaseExpiresAt", j."failureCode", j."failureReason",
             j."operatorFault", j."meteringFlagged", j."timingFlagged", j.verification::text AS verification,
             j."similarityBp", j."verifierNodeId", j."callbackUrl", j."createdAt", j."dispatchedAt", j."leasedAt", j."finishedAt",
             u."promptTokens"::text AS "promptTokens", u."completionTokens"::text AS "completionTokens",
             u."billableTokens"::text AS "billableTokens", u."creditedTokens"::text AS "creditedTokens",
             u."excessTokens"::text AS "excessTokens", u."releasedFen"::text AS "releasedFen", u."ttftMs", u."durationMs",
             u."ttftBreach", u."rateBreach", u."reportedPromptTokens"::text AS "reportedPromptTokens",
             u."reportedCompletionTokens"::text AS "reportedCompletionTokens", u."reportedTtftMs", u."reportedDurationMs",
             u."usageEstimated", u.tokenizer, u."discrepancyBp", u."outputSha256"
        FROM delivery_jobs j
        LEFT JOIN usage_records u ON u."jobId" = j.id
       WHERE j.id = ANY(${ids}::uuid[])
       ORDER BY j.seq`;
    return rows.map((r) => ({
      job: {
        id: r.id,
        buyerId: r.buyerId,
        sellerId: r.sellerId,
        seriesId: r.seriesId,
        obligationId: r.obligationId,
        modelClass: r.modelClass,
        region: r.region,
        maxTokens: r.maxTokens,
        status: r.status as DeliveryJobStatus,
        attempt: r.attempt,
        nodeId: r.nodeId,
        leaseExpiresAt: r.leaseExpiresAt,
        failureCode: r.failureCode,
        failureReason: r.failureReason,
        operatorFault: r.operatorFault,
        meteringFlagged: r.meteringFlagged,
        timingFlagged: r.timingFlagged,
        verification: r.verification as VerificationStatus,
        similarityBp: r.similarityBp,
        verifierNodeId: r.verifierNodeId,
        callbackUrl: r.callbackUrl,
        createdAt: r.createdAt,
        dispatchedAt: r.dispatchedAt,
        leasedAt: r.leasedAt,
        finishedAt: r.finishedAt,
      },
      usage:
        r.promptTokens === null
          ? null
          : {
              promptTokens: BigInt(r.promptTokens),
              completionTokens: BigInt(r.completionTokens),
              billableTokens: BigInt(r.billableTokens),
              creditedTokens: BigInt(r.creditedTokens),
              excessTokens: BigInt(r.excessTokens),
              releasedFen: BigInt(r.releasedFen),
              ttftMs: r.ttftMs,
              durationMs: r.durationMs,
              ttftBreach: r.ttftBreach,
              rateBreach: r.rateBreach,
              reportedPromptTokens: BigInt(r.reportedPromptTokens),
              reportedCompletionTokens: BigInt(r.reportedCompletionTokens),
              reportedTtftMs: r.reportedTtftMs,
              reportedDurationMs: r.reportedDurationMs,
              usageEstimated: r.usageEstimated,
              tokenizer: r.tokenizer,
              discrepancyBp: r.discrepancyBp,
              outputSha256: r.outputSha256,
            },
    }));
  }
}
