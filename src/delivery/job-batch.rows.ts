import type { DeliveryJob, DeliveryObligation } from '../generated/prisma/client.js';
import type { JobEventRow } from './job-events.repository.js';

// The rows the delivery hot path reads and writes (JobBatchRepository), and their conversion from
// what pg returns (int8 as text) to the Prisma shapes the views expect.

export type Row = Record<string, unknown>;

/** What the hot paths need of a job (its messages, output and history stay in Postgres). */
export type HotJob = Pick<
  DeliveryJob,
  | 'id'
  | 'status'
  | 'attempt'
  | 'seriesId'
  | 'sellerId'
  | 'obligationId'
  | 'modelClass'
  | 'region'
  | 'triedNodes'
  | 'nodeId'
  | 'leaseToken'
  | 'reservedTokens'
  | 'callbackUrl'
>;

/** A job as dispatch reads it: how often it already waited for capacity, and for a verification re-run the original's seller (who must not verify it). */
export type DispatchJob = HotJob & { waits: number; verifiesJobId: string | null; verifiesSellerId: string | null };

/** A job as a completion judges it: what the hot paths read, plus its size, lease and counted prompt. */
export type CompletingJob = HotJob &
  Pick<
    DeliveryJob,
    | 'maxTokens'
    | 'leasedAt'
    | 'countedPromptTokens'
    | 'buyerId'
    | 'verifiesJobId'
    // The rest of its stream event's columns: the event is built from the batch's rows (JobStream.committed).
    | 'createdAt'
    | 'dispatchedAt'
    | 'failureCode'
    | 'failureReason'
    | 'operatorFault'
    | 'verification'
    | 'similarityBp'
    | 'verifierNodeId'
  >;

/** A job as its lease recorded it: what the agent is handed, and every column of its stream event. */
export type ClaimedJob = Omit<JobEventRow['job'], 'leaseExpiresAt'> &
  Pick<DeliveryJob, 'messages' | 'verifiesJobId'> & { leaseToken: string; leaseExpiresAt: Date };

export function toHotJob(r: Row): HotJob {
  return { ...(r as unknown as HotJob), reservedTokens: BigInt(r.reservedTokens as string) };
}

const BIGINT_OBLIGATION_FIELDS = [
  'tokens',
  'priceFen',
  'notionalFen',
  'deliveredTokens',
  'reservedTokens',
  'excessTokens',
  'releasedFen',
  'refundedFen',
  'penaltyFen',
  'shortfallTokens',
  'unusedTokens',
] as const;

export function toObligation(r: Row): DeliveryObligation {
  const o = { ...r } as Row;
  for (const f of BIGINT_OBLIGATION_FIELDS) o[f] = BigInt(r[f] as string);
  return o as unknown as DeliveryObligation;
}

export interface NewJob {
  id: string;
  buyerId: string;
  seriesId: string;
  obligationId: string;
  sellerId: string;
  modelClass: string;
  region: string | null;
  messages: unknown;
  maxTokens: number;
  reservedTokens: bigint;
  callbackUrl: string | null;
  countedPromptTokens: number;
  submissionId: string | null;
  decisions: unknown[];
}

export interface Dispatched {
  id: string;
  attempt: number;
  nodeId: string;
  decision: Record<string, unknown>;
  /** A verification re-run goes to another operator's node: that operator does (and is paid for) the work. */
  sellerId?: string;
}

export interface Claim {
  id: string;
  attempt: number;
  token: string;
}

export interface Metered {
  jobId: string;
  obligationId: string;
  nodeId: string;
  operatorId: string;
  promptTokens: bigint;
  completionTokens: bigint;
  billableTokens: bigint;
  creditedTokens: bigint;
  excessTokens: bigint;
  releasedFen: bigint;
  ttftMs: number;
  durationMs: number;
  ttftBreach: boolean;
  rateBreach: boolean;
  output: string;
  reportedPromptTokens: number;
  reportedCompletionTokens: number;
  reportedTtftMs: number;
  reportedDurationMs: number;
  usageEstimated: boolean;
  tokenizer: string;
  discrepancyBp: number;
  outputSha256: string;
  meteringFlagged: boolean;
  timingFlagged: boolean;
  /** Selected for verification by re-execution: the job's verification becomes PENDING. */
  verify: boolean;
}

/** A verification re-run's completion: no usage, no obligation, no money on the hot path (judged by a worker job). */
export interface Rerun {
  jobId: string;
  output: string;
}

export interface ObligationDelta {
  id: string;
  /** The obligation as the batch read it. */
  before: { deliveredTokens: bigint; releasedFen: bigint };
  deliveredTokens: bigint;
  unreserve: bigint;
  excess: bigint;
  releasedFen: bigint;
}

/** A metered job as its completion committed it: its stream event's row, from the batch's rows (no read-back). */
export function completedEvent(job: CompletingJob, row: Metered, finishedAt: Date): JobEventRow {
  return {
    // The locked row's columns, as the completion's statement changed them.
    job: {
      ...job,
      status: 'COMPLETED',
      leaseExpiresAt: null,
      meteringFlagged: row.meteringFlagged,
      timingFlagged: row.timingFlagged,
      verification: row.verify ? 'PENDING' : job.verification,
      finishedAt,
    },
    usage: {
      promptTokens: row.promptTokens,
      completionTokens: row.completionTokens,
      billableTokens: row.billableTokens,
      creditedTokens: row.creditedTokens,
      excessTokens: row.excessTokens,
      releasedFen: row.releasedFen,
      ttftMs: row.ttftMs,
      durationMs: row.durationMs,
      ttftBreach: row.ttftBreach,
      rateBreach: row.rateBreach,
      reportedPromptTokens: BigInt(row.reportedPromptTokens),
      reportedCompletionTokens: BigInt(row.reportedCompletionTokens),
      reportedTtftMs: row.reportedTtftMs,
      reportedDurationMs: row.reportedDurationMs,
      usageEstimated: row.usageEstimated,
      tokenizer: row.tokenizer,
      discrepancyBp: row.discrepancyBp,
      outputSha256: row.outputSha256,
    },
  };
}
