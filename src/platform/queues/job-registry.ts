import type { JobsOptions } from 'bullmq';

// The one list of every queue and job, with one payload type per job. Payloads carry ids and
// small parameters only; handlers reload state from Postgres and must be idempotent.

export const QUEUE_NAMES = ['maintenance'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export interface JobPayloads {
  /** Deletes completed idempotency records older than the retention window. */
  'maintenance.purge-idempotency': { retentionHours: number };
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
} as const satisfies Record<string, JobsOptions>;

export const JOBS: { readonly [K in JobName]: JobDefinition } = {
  'maintenance.purge-idempotency': { queue: 'maintenance', options: JOB_OPTIONS.maintenance },
};

export interface Schedule<K extends JobName = JobName> {
  id: string;
  job: K;
  /** Cron pattern, evaluated in the business time zone. */
  pattern: string;
  payload: JobPayloads[K];
}

export const SCHEDULES: readonly Schedule[] = [
  { id: 'purge-idempotency', job: 'maintenance.purge-idempotency', pattern: '17 * * * *', payload: { retentionHours: 48 } },
];

export const QUEUE_CONCURRENCY: Record<QueueName, number> = { maintenance: 1 };
