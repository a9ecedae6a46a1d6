import type { DeliveryJob, DeliveryObligation, UsageRecord } from '../generated/prisma/client.js';
import { formatFen } from '../platform/money/money.js';

export function obligationView(o: DeliveryObligation, seriesCode: string) {
  return {
    id: o.id,
    series: seriesCode,
    seq: o.seq,
    sellerId: o.sellerId,
    buyerId: o.buyerId,
    contracts: o.contracts,
    tokens: Number(o.tokens),
    deliveredTokens: Number(o.deliveredTokens),
    reservedTokens: Number(o.reservedTokens),
    remainingTokens: Number(o.tokens - o.deliveredTokens),
    excessTokens: Number(o.excessTokens),
    price: formatFen(o.priceFen),
    notional: formatFen(o.notionalFen),
    released: formatFen(o.releasedFen),
    refunded: formatFen(o.refundedFen),
    penalty: formatFen(o.penaltyFen),
    shortfallTokens: Number(o.shortfallTokens),
    unusedTokens: Number(o.unusedTokens),
    currency: 'CNY',
    status: o.status,
    fundedAt: o.fundedAt?.toISOString() ?? null,
    closedAt: o.closedAt?.toISOString() ?? null,
  };
}

/** The job columns a view shows (all but messages and the decision log's own view). */
export type JobViewFields = Pick<
  DeliveryJob,
  | 'id'
  | 'obligationId'
  | 'modelClass'
  | 'region'
  | 'maxTokens'
  | 'status'
  | 'attempt'
  | 'nodeId'
  | 'leaseExpiresAt'
  | 'failureCode'
  | 'failureReason'
  | 'operatorFault'
  | 'createdAt'
  | 'dispatchedAt'
  | 'leasedAt'
  | 'finishedAt'
  | 'meteringFlagged'
  | 'timingFlagged'
  | 'verification'
  | 'similarityBp'
  | 'verifierNodeId'
  | 'callbackUrl'
>;

/** The usage columns a job's view shows. */
export type UsageViewFields = Omit<UsageRecord, 'id' | 'jobId' | 'obligationId' | 'nodeId' | 'operatorId' | 'createdAt'>;

/** A job as /v1/stream's `jobs` channel shows it: its view without the output, the decision log and the submission id. */
export function jobEventView(j: JobViewFields, seriesCode: string, usage: UsageViewFields | null) {
  return {
    id: j.id,
    series: seriesCode,
    obligationId: j.obligationId,
    modelClass: j.modelClass,
    region: j.region,
    maxTokens: j.maxTokens,
    status: j.status,
    attempts: j.attempt + (j.status === 'QUEUED' ? 0 : 1),
    nodeId: j.nodeId,
    leaseExpiresAt: j.leaseExpiresAt?.toISOString() ?? null,
    failure: j.failureCode ? { code: j.failureCode, reason: j.failureReason, operatorFault: j.operatorFault } : null,
    usage: usage
      ? {
          prompt_tokens: Number(usage.promptTokens),
          completion_tokens: Number(usage.completionTokens),
          billableTokens: Number(usage.billableTokens),
          creditedTokens: Number(usage.creditedTokens),
          excessTokens: Number(usage.excessTokens),
          released: formatFen(usage.releasedFen),
          currency: 'CNY',
        }
      : null,
    timings: {
      createdAt: j.createdAt.toISOString(),
      dispatchedAt: j.dispatchedAt?.toISOString() ?? null,
      leasedAt: j.leasedAt?.toISOString() ?? null,
      finishedAt: j.finishedAt?.toISOString() ?? null,
      ttftMs: usage?.ttftMs ?? null,
      durationMs: usage?.durationMs ?? null,
    },
    sla: usage ? { ttftBreach: usage.ttftBreach, rateBreach: usage.rateBreach, met: !usage.ttftBreach && !usage.rateBreach } : null,
    // SPEC §6.1: what the node reported beside what the clearing house counted (and billed).
    metering: usage
      ? {
          reported: { promptTokens: Number(usage.reportedPromptTokens), completionTokens: Number(usage.reportedCompletionTokens) },
          counted: { promptTokens: Number(usage.promptTokens), completionTokens: Number(usage.completionTokens) },
          billableTokens: Number(usage.billableTokens),
          discrepancyBp: usage.discrepancyBp,
          tokenizer: usage.tokenizer,
          usageEstimated: usage.usageEstimated,
          flagged: j.meteringFlagged,
          reportedTimings: { ttftMs: usage.reportedTtftMs, durationMs: usage.reportedDurationMs },
          timingFlagged: j.timingFlagged,
          outputSha256: usage.outputSha256,
        }
      : null,
    verification: {
      status: j.verification,
      ...(j.similarityBp !== null ? { similarityBp: j.similarityBp } : {}),
      ...(j.verifierNodeId ? { verifierNodeId: j.verifierNodeId } : {}),
    },
    callbackUrl: j.callbackUrl,
  };
}

export function jobView(j: DeliveryJob, seriesCode: string, usage: UsageRecord | null) {
  // submissionId: the batch request that created it (the target of that request's audit event).
  return { ...jobEventView(j, seriesCode, usage), submissionId: j.submissionId, output: j.output, decisions: j.decisions };
}
