import type { JobsOptions } from 'bullmq';
import type { AppConfig } from '../config/config.js';

// The one list of every queue and job, with one payload type per job. Payloads carry ids and
// small parameters only; handlers reload state from Postgres and must be idempotent.

export const QUEUE_NAMES = ['maintenance', 'capacity', 'markets', 'settlement', 'delivery', 'reconciliation', 'defaults'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export interface JobPayloads {
  /** Deletes completed idempotency records older than the retention window. */
  'maintenance.purge-idempotency': { retentionHours: number };
  /** Creates the monthly partitions of transfers, usage_records and audit_events this many months ahead (idempotent). */
  'maintenance.partitions-ahead': { monthsAhead: number };
  /** Marks nodes OFFLINE whose last heartbeat is older than the configured silence. */
  'capacity.sweep-offline': Record<string, never>;
  /** At tradingStartAt: LISTED → TRADING. */
  'markets.series-open': { seriesId: string };
  /** At lastTradingAt: trading halts, resting orders are cancelled and their margin released. */
  'markets.series-halt': { seriesId: string };
  /** At the end of a circuit-breaker pause: records the series' resume (trading resumes by time anyway). */
  'markets.resume-series': { seriesId: string };
  /** Every INTRADAY_MARK_MINUTES: re-marks positions at the last trade prices; opens MAINTENANCE calls, moves no money. */
  'settlement.intraday-mark': Record<string, never>;
  /** Executes (or resumes) one settlement run; idempotent by construction. */
  'settlement.run': { runId: string };
  /** At the end-of-day cut-off: opens the DAILY run of every trading series. */
  'settlement.eod': Record<string, never>;
  /** Scheduled at lastTradingAt (PHYSICAL EXPIRY) and deliveryEnd (DELIVERY_CLOSE): starts that run. */
  'settlement.scheduled-run': { seriesId: string; type: 'EXPIRY' | 'DELIVERY_CLOSE' };
  /** Enqueued by a deposit: closes the member's open margin calls its cash now covers. */
  'settlement.close-covered-calls': { memberId: string };
  /** Places one delivery job (at one dispatch attempt) on an eligible node's queue. */
  'delivery.dispatch': { jobId: string; attempt: number };
  /** The jobs of one submission batch, dispatched together (each at its attempt). */
  'delivery.dispatch-batch': { jobs: { jobId: string; attempt: number }[] };
  /** A suspended operator's leased and dispatched jobs go back to dispatch at once. */
  'delivery.return-leases': { operatorId: string };
  /** POSTs a finished job's result to the buyer's callback URL, signed. */
  'delivery.webhook': { jobId: string };
  /** A completion batch's jobs selected for verification: inserts their re-runs (SPEC §6.1) and sends them to dispatch together. */
  'delivery.verification-create': { jobIds: string[] };
  /** A verification re-run completed: compares the outputs, pays the verifier, and on a failure penalises the original's seller. */
  'delivery.verification-judge': { jobId: string };
  /** At the end-of-day cut-off: fixes every token index for the business date that just ended (idempotent). */
  'indices.fixing': Record<string, never>;
  /** Every reconciliation check; queued after each settlement run. */
  'reconciliation.run': { settlementRunId: string };
  /** At a default's auction end: awards, tear-ups and the waterfall; early deliveries re-schedule themselves. */
  'defaults.close-auction': { defaultId: string };
  /** AUTO_PROPOSE_DEFAULT: proposes a default for each member with an overdue margin call. */
  'defaults.auto-propose': Record<string, never>;
}
export type JobName = keyof JobPayloads;

export interface JobDefinition {
  queue: QueueName;
  options: JobsOptions;
}

// Completed jobs are kept long enough that a re-relayed outbox row with the same jobId is
// recognised as a duplicate instead of running again.
const KEEP = { removeOnComplete: { age: 7 * 24 * 3600, count: 100_000 }, removeOnFail: { age: 30 * 24 * 3600 } };

export const JOB_OPTIONS = {
  maintenance: { ...KEEP, attempts: 3, backoff: { type: 'exponential', delay: 5_000 } },
  // A sweep runs again on the next tick anyway: keep little history.
  sweep: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 }, attempts: 1 },
  // Series lifecycle events must happen: retry for a long while (handlers are idempotent).
  lifecycle: { ...KEEP, attempts: 20, backoff: { type: 'exponential', delay: 1_000 } },
  // Dispatch is cheap and re-driven by the reaper from Postgres; keep little history.
  dispatch: {
    removeOnComplete: { age: 3600, count: 10_000 },
    removeOnFail: { age: 24 * 3600 },
    attempts: 5,
    backoff: { type: 'exponential', delay: 200 },
  },
  // A buyer's endpoint may be down for a while: about an hour of exponential retries.
  webhook: { ...KEEP, attempts: 12, backoff: { type: 'exponential', delay: 1_000 } },
} as const satisfies Record<string, JobsOptions>;

export const JOBS: { readonly [K in JobName]: JobDefinition } = {
  'maintenance.purge-idempotency': { queue: 'maintenance', options: JOB_OPTIONS.maintenance },
  'maintenance.partitions-ahead': { queue: 'maintenance', options: JOB_OPTIONS.maintenance },
  'capacity.sweep-offline': { queue: 'capacity', options: JOB_OPTIONS.sweep },
  'markets.series-open': { queue: 'markets', options: JOB_OPTIONS.lifecycle },
  'markets.series-halt': { queue: 'markets', options: JOB_OPTIONS.lifecycle },
  'markets.resume-series': { queue: 'markets', options: JOB_OPTIONS.lifecycle },
  'settlement.intraday-mark': { queue: 'settlement', options: JOB_OPTIONS.sweep },
  'settlement.run': { queue: 'settlement', options: JOB_OPTIONS.lifecycle },
  'settlement.eod': { queue: 'settlement', options: JOB_OPTIONS.lifecycle },
  'settlement.scheduled-run': { queue: 'settlement', options: JOB_OPTIONS.lifecycle },
  'settlement.close-covered-calls': { queue: 'settlement', options: JOB_OPTIONS.lifecycle },
  'delivery.dispatch': { queue: 'delivery', options: JOB_OPTIONS.dispatch },
  'delivery.dispatch-batch': { queue: 'delivery', options: JOB_OPTIONS.dispatch },
  'delivery.webhook': { queue: 'delivery', options: JOB_OPTIONS.webhook },
  'delivery.verification-create': { queue: 'delivery', options: JOB_OPTIONS.lifecycle },
  'delivery.verification-judge': { queue: 'delivery', options: JOB_OPTIONS.lifecycle },
  'indices.fixing': { queue: 'settlement', options: JOB_OPTIONS.lifecycle },
  'delivery.return-leases': { queue: 'delivery', options: JOB_OPTIONS.lifecycle },
  'reconciliation.run': { queue: 'reconciliation', options: JOB_OPTIONS.maintenance },
  'defaults.close-auction': { queue: 'defaults', options: JOB_OPTIONS.lifecycle },
  'defaults.auto-propose': { queue: 'defaults', options: JOB_OPTIONS.sweep },
};

/** A job's BullMQ options under this configuration (webhook retries start after WEBHOOK_RETRY_DELAY_MS). */
export function jobOptions(name: JobName, config: AppConfig): JobsOptions {
  const options = JOBS[name].options;
  if (name !== 'delivery.webhook') return options;
  return { ...options, backoff: { type: 'exponential', delay: config.webhooks.retryDelayMs } };
}

export interface Schedule<K extends JobName = JobName> {
  id: string;
  job: K;
  /** A cron pattern (evaluated in the business time zone) or a fixed period. */
  repeat: { pattern: string } | { every: number };
  payload: JobPayloads[K];
}

/** Repeatable jobs, upserted by id at worker start (so every worker copy may do it). */
export function schedules(config: AppConfig): Schedule[] {
  return [
    { id: 'purge-idempotency', job: 'maintenance.purge-idempotency', repeat: { pattern: '17 * * * *' }, payload: { retentionHours: 48 } },
    // Daily, three months ahead: a month's partition exists long before its first row, so the
    // DEFAULT partition stays empty unless this job has been down for months.
    { id: 'partitions-ahead', job: 'maintenance.partitions-ahead', repeat: { pattern: '41 3 * * *' }, payload: { monthsAhead: 3 } },
    { id: 'capacity-sweep', job: 'capacity.sweep-offline', repeat: { every: config.capacity.heartbeatIntervalMs }, payload: {} },
    { id: 'settlement-eod', job: 'settlement.eod', repeat: { pattern: eodPattern(config.eodCutoff) }, payload: {} },
    { id: 'index-fixing', job: 'indices.fixing', repeat: { pattern: eodPattern(config.eodCutoff) }, payload: {} },
    { id: 'intraday-mark', job: 'settlement.intraday-mark', repeat: { every: config.risk.intradayMarkMinutes * 60_000 }, payload: {} },
    ...(config.defaults.autoPropose
      ? [{ id: 'defaults-auto-propose', job: 'defaults.auto-propose' as const, repeat: { every: config.defaults.sweepMs }, payload: {} }]
      : []),
  ];
}

/** Cron pattern firing daily at the cut-off (evaluated in Asia/Shanghai by the scheduler). */
export function eodPattern(cutoff: string): string {
  const [h, m] = cutoff.split(':').map(Number);
  return `${m} ${h} * * *`;
}

export const QUEUE_CONCURRENCY: Record<QueueName, number> = {
  maintenance: 1,
  capacity: 1,
  markets: 4,
  settlement: 2,
  delivery: 16,
  reconciliation: 1,
  defaults: 1,
};
