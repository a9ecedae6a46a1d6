import { createApiClient, data, problemOf, type ApiClient, type ApiResult } from '../client/api.js';
import { GroupCommit } from '../platform/batching/group-commit.js';
import type { AgentConfig } from './agent-config.js';
import type { Log } from './agent.js';
import { InferenceError, type ChatMessage, type InferenceEngine } from './inference/inference.js';
import { jobTimeoutMs } from './job-timeout.js';
import { completionsBody, splitByBytes } from './report-split.js';

interface LeasedJob {
  id: string;
  leaseToken: string;
  leaseExpiresAt: string;
  modelClass: string;
  messages: ChatMessage[];
  maxTokens: number;
  /** The product's rate floor; sets the job's time limit (see jobTimeoutMs). */
  minTokensPerSecond?: number;
  /** Sampling seed, for a deterministic answer (verification by re-execution). */
  seed?: number;
}

interface Completion {
  jobId: string;
  leaseToken: string;
  usage: { prompt_tokens: number; completion_tokens: number };
  ttftMs: number;
  durationMs: number;
  output: string;
  /** Present (true) only when the usage is the agent's estimate, not the inference server's count. */
  usageEstimated?: true;
}

/** A completion the API refuses as too large (413) even alone: the job is given up, not retried. */
class CompletionTooLarge extends Error {
  readonly retryable = false;
}

const MAX_BACKOFF_MS = 10_000;
/** The API hands out at most this many jobs per lease request. */
const MAX_JOBS_PER_LEASE = 256;
/** The API takes at most this many completions per request. */
const MAX_COMPLETIONS_PER_REPORT = 256;

/**
 * Leases delivery jobs for this node (long-poll), runs each on the inference engine, and reports
 * completion or failure — never more jobs on the engine at once than the configured concurrency. stop() ends
 * leasing at once; drained() resolves when the jobs in hand are reported.
 */
export class DeliveryLoop {
  private running = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** Jobs on the inference engine: what the configured concurrency bounds. */
  private busy = 0;
  /** Lease tokens of the jobs in hand, by job: what the heartbeats keep alive. */
  private readonly held = new Map<string, string>();
  private readonly stopLeasing = new AbortController();
  private freed?: () => void;
  private failures = 0;
  completed = 0;
  failed = 0;
  // gatherTurn: the jobs of one lease that finish together (an instant engine's, or a burst of a
  // real one's) go in one report; otherwise the first went alone and freed one slot for the next
  // lease — a lease of 1 and a report of 1 per cycle, half the agent's round trips.
  private readonly completions = new GroupCommit<Completion, void>((batch) => this.reportCompletions(batch), {
    maxItems: MAX_COMPLETIONS_PER_REPORT,
    gatherTurn: true,
  });

  private readonly api: ApiClient;

  constructor(
    private readonly config: AgentConfig,
    private readonly engine: InferenceEngine,
    private readonly log: Log,
  ) {
    this.api = createApiClient({ baseUrl: config.api, key: config.token });
  }

  async run(): Promise<void> {
    this.running = true;
    while (this.running) {
      // A job's slot is free once the engine has answered, not once its report is acknowledged:
      // the next lease travels while the last report does (the engine would otherwise idle for
      // a report's round trip each cycle). Jobs still in hand, finished or not, stay bounded at
      // twice the concurrency, so a slow API holds at most one concurrency's worth unreported.
      const free = Math.min(this.config.concurrency - this.busy, 2 * this.config.concurrency - this.inFlight.size);
      if (free <= 0) {
        await new Promise<void>((r) => (this.freed = r));
        // The jobs of one completion report free their slots together: let them all land, so the
        // next lease asks for all of them (not for the first one alone).
        await new Promise((r) => setImmediate(r));
        continue;
      }
      try {
        const jobs = await this.lease(Math.min(free, MAX_JOBS_PER_LEASE));
        this.failures = 0;
        for (const job of jobs) this.track(this.execute(job));
      } catch (err) {
        if (!this.running) break;
        this.failures++;
        const wait = Math.min(250 * 2 ** Math.min(this.failures, 6), MAX_BACKOFF_MS);
        this.log('warn', 'lease request failed; retrying', { error: (err as Error).message, retryInMs: wait });
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  stop(): void {
    this.running = false;
    this.stopLeasing.abort();
    this.freed?.();
  }

  async drained(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled(this.inFlight);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => {
      this.inFlight.delete(p);
      this.freed?.();
    });
  }

  private async lease(maxJobs: number): Promise<LeasedJob[]> {
    const res = await this.api.POST('/v1/nodes/{id}/lease', {
      params: { path: { id: this.config.nodeId } },
      body: { maxJobs, waitSeconds: this.config.leaseWaitSeconds },
      signal: AbortSignal.any([this.stopLeasing.signal, AbortSignal.timeout((this.config.leaseWaitSeconds + 10) * 1000)]),
    });
    return answered<{ jobs: LeasedJob[] }>(`/v1/nodes/${this.config.nodeId}/lease`, res).jobs;
  }

  /** The lease tokens of the jobs in hand (each chunk's jobs share one). */
  leases(): string[] {
    return [...new Set(this.held.values())];
  }

  private async execute(job: LeasedJob): Promise<void> {
    // Held (its lease kept alive by the heartbeats) until the report is answered.
    this.held.set(job.id, job.leaseToken);
    this.busy++;
    try {
      await this.deliver(job);
    } finally {
      this.held.delete(job.id);
    }
  }

  /** The engine has answered (or failed) this job: its slot is free for the next lease. */
  private engineDone(): void {
    this.busy--;
    this.freed?.();
  }

  private async deliver(job: LeasedJob): Promise<void> {
    this.log('info', 'job leased', { job: job.id, maxTokens: job.maxTokens, leaseExpiresAt: job.leaseExpiresAt });
    try {
      const r = await this.engine
        .complete({
          modelClass: job.modelClass,
          messages: job.messages,
          maxTokens: job.maxTokens,
          ...(Number.isSafeInteger(job.seed) ? { seed: job.seed } : {}),
          timeoutMs: jobTimeoutMs(job, this.config.timeouts),
        })
        .finally(() => this.engineDone());
      await this.completions.run({
        jobId: job.id,
        leaseToken: job.leaseToken,
        usage: { prompt_tokens: r.usage.prompt_tokens, completion_tokens: r.usage.completion_tokens },
        ttftMs: Math.round(r.ttftMs),
        durationMs: Math.round(r.durationMs),
        output: r.output,
        ...(r.usageEstimated ? { usageEstimated: true } : {}),
      });
      this.completed++;
      this.log('info', 'job completed', {
        job: job.id,
        usage: r.usage,
        usageEstimated: r.usageEstimated ?? false,
        ttftMs: Math.round(r.ttftMs),
      });
    } catch (err) {
      const { reason, retryable, cause } = failureOf(err);
      this.failed++;
      this.log('warn', 'job failed', { job: job.id, error: reason, retryable, cause });
      await this.report(job, 'fail', { leaseToken: job.leaseToken, reason: reason.slice(0, 500), retryable, cause }).catch((e: Error) =>
        this.log('error', 'could not report the failure; the lease will expire', { job: job.id, error: e.message }),
      );
    }
  }

  /**
   * Sends the completions that finished while the previous report was on its way, in as few
   * requests as fit the byte budget (they are applied one by one on the server, each exactly
   * once); answers each on its own. A request's failure fails its own completions only.
   */
  private async reportCompletions(completions: Completion[]): Promise<PromiseSettledResult<void>[]> {
    const jsons = completions.map((c) => JSON.stringify(c));
    const sizes = jsons.map((j) => Buffer.byteLength(j));
    const results: PromiseSettledResult<void>[] = [];
    for (const [from, to] of splitByBytes(sizes, this.config.reportMaxBytes, MAX_COMPLETIONS_PER_REPORT))
      results.push(...(await this.sendCompletions(completions.slice(from, to), jsons.slice(from, to))));
    return results;
  }

  /**
   * One report request. The API's body limit may be lower than our budget (a proxy in front of
   * it, an older server): on 413 the report is halved and each half sent, down to a single
   * completion, which then fails alone — finished work is never dropped with its neighbours.
   */
  private async sendCompletions(completions: Completion[], jsons: string[]): Promise<PromiseSettledResult<void>[]> {
    const body = completionsBody(jsons);
    type Answer = { items: { jobId: string; status: number; problem?: { code?: string; detail?: string } }[] };
    let items: Answer['items'];
    try {
      ({ items } = await this.retrying(async () =>
        answered<Answer>(
          `/v1/nodes/${this.config.nodeId}/completions`,
          await this.api.POST('/v1/nodes/{id}/completions', {
            params: { path: { id: this.config.nodeId } },
            body: { completions },
            // The bytes splitByBytes measured, not a second serialisation.
            bodySerializer: () => body,
            signal: AbortSignal.timeout(15_000),
          }),
        ),
      ));
    } catch (err) {
      if ((err as { status?: number }).status !== 413) return completions.map(() => ({ status: 'rejected', reason: err }));
      const bytes = Buffer.byteLength(body);
      if (completions.length === 1) {
        this.log('error', 'completion too large for the API even alone (413): reporting the job as failed', {
          job: completions[0].jobId,
          bytes,
        });
        const reason = new CompletionTooLarge(`REPORT_TOO_LARGE: the API refused the ${bytes}-byte completion report (413)`);
        return [{ status: 'rejected', reason }];
      }
      const half = Math.ceil(completions.length / 2);
      this.log('warn', 'completion report too large for the API (413): sending it in halves', { completions: completions.length, bytes });
      return [
        ...(await this.sendCompletions(completions.slice(0, half), jsons.slice(0, half))),
        ...(await this.sendCompletions(completions.slice(half), jsons.slice(half))),
      ];
    }
    return items.map((it) => {
      if (it.status === 200) return { status: 'fulfilled', value: undefined };
      if (it.status === 409) {
        this.log('warn', 'complete refused: the lease is no longer ours', { job: it.jobId, code: it.problem?.code });
        return { status: 'fulfilled', value: undefined };
      }
      return {
        status: 'rejected',
        reason: new Error(`completion of ${it.jobId} answered ${it.status} ${it.problem?.code ?? ''} ${it.problem?.detail ?? ''}`.trim()),
      };
    });
  }

  /** Reports a failure; 409 (the lease is no longer ours) is final and expected. */
  private async report(
    job: LeasedJob,
    what: 'fail',
    body: { leaseToken: string; reason: string; retryable: boolean; cause?: 'REQUEST' | 'OPERATOR' },
  ): Promise<void> {
    try {
      await this.retrying(async () =>
        answered(
          `/v1/delivery/jobs/${job.id}/${what}`,
          await this.api.POST('/v1/delivery/jobs/{id}/fail', {
            params: { path: { id: job.id } },
            body,
            signal: AbortSignal.timeout(15_000),
          }),
        ),
      );
    } catch (err) {
      if ((err as { status?: number }).status !== 409) throw err;
      this.log('warn', `${what} refused: the lease is no longer ours`, { job: job.id });
    }
  }

  /**
   * A few retries while the API is unreachable or failing (5xx, 429); any 4xx is final
   * (retrying cannot help).
   */
  private async retrying<T>(send: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await send();
      } catch (err) {
        const status = (err as { status?: number }).status;
        if (attempt >= 5 || (status !== undefined && status < 500 && status !== 429)) throw err;
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  }
}

/** The body of a successful answer; a failure throws with its status (what retrying() and the 413/409 handling read). */
export function answered<T = unknown>(path: string, res: ApiResult): T {
  if (!res.response.ok) {
    const problem = problemOf(res);
    throw Object.assign(new Error(`${path} answered ${res.response.status} ${problem.code ?? ''} ${problem.detail ?? ''}`.trim()), {
      status: res.response.status,
    });
  }
  return data<T>(res);
}

/**
 * What the failure report says: the inference failure's kind first (TIMEOUT, HTTP…), whether
 * another node may try, and who caused it — the request when the server refused the prompt.
 */
export function failureOf(err: unknown): { reason: string; retryable: boolean; cause: 'REQUEST' | 'OPERATOR' } {
  if (err instanceof InferenceError) return { reason: `${err.kind}: ${err.message}`, retryable: err.retryable, cause: err.fault };
  if (err instanceof CompletionTooLarge) return { reason: err.message, retryable: err.retryable, cause: 'OPERATOR' };
  return { reason: (err as Error).message, retryable: true, cause: 'OPERATOR' };
}
