import { TokenCounter } from './counting/token-counter.js';
import { lastStartFor } from './domain/delivery-window.js';
import { Inject, Injectable } from '@nestjs/common';
import type { DeliveryJobStatus, ObligationStatus } from '../generated/prisma/enums.js';
import { ListingCache } from '../markets/listing-cache.js';
import { MarketsRepository } from '../markets/markets.repository.js';
import { memberScope, loadOwned } from '../platform/auth/ownership.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { EgressPolicy, EgressRefused } from '../platform/egress/egress-policy.js';
import { DomainError } from '../platform/errors/error-codes.js';
import type { Principal } from '../platform/http/request-context.js';
import { decodeCursor, toPage } from '../platform/pagination/page.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import type { AuditEntry } from '../platform/audit/audit.repository.js';
import { Clock } from '../platform/time/clock.js';
import { jobView, obligationView } from './delivery-views.js';
import { DeliveryJobsRepository } from './delivery-jobs.repository.js';
import { DeliveryRepository } from './delivery.repository.js';
import { ObligationsRepository } from './obligations.repository.js';
import { SubmissionBatcher, type BatchSubmission } from './submission-batcher.js';
import { WebhooksRepository } from './webhooks.repository.js';
import { MAX_JOB_CHARS, type SubmitJobDto } from './dto/delivery.dto.js';
import { assertWithinBudget } from '../platform/http/body-limits.js';
import { settledLater } from '../platform/batching/group-commit.js';

export const dispatchJobId = (jobId: string, attempt: number, suffix = ''): string => `dispatch.${jobId}.${attempt}${suffix}`;

/** Buyers' delivery jobs: validated, reserved against an obligation and stored with their outbox row. */
@Injectable()
export class DeliveryJobsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly jobs: DeliveryJobsRepository,
    private readonly obligationRows: ObligationsRepository,
    private readonly repo: DeliveryRepository,
    private readonly markets: MarketsRepository,
    private readonly listings: ListingCache,
    private readonly submissions: SubmissionBatcher,
    private readonly clock: Clock,
    private readonly counter: TokenCounter,
    private readonly egress: EgressPolicy,
    private readonly webhookRows: WebhooksRepository,
  ) {}

  /**
   * `fromKey`: the id derives from an Idempotency-Key, so a job with it may already exist.
   * `audit`: the request's success event, or the batch submission whose one event covers all its
   * jobs; `audited`: it was committed with the job.
   */
  async submit(p: Principal, body: SubmitJobDto, id: string, fromKey: boolean, audit?: AuditEntry | BatchSubmission) {
    if (!body.series && !body.obligationId)
      throw new DomainError('VALIDATION_FAILED', 'give series or obligationId', [
        { field: 'series', message: 'series or obligationId is required' },
      ]);
    if (body.maxTokens > this.config.delivery.maxTokens) {
      throw new DomainError('VALIDATION_FAILED', `maxTokens is at most ${this.config.delivery.maxTokens}`, [
        { field: 'maxTokens', message: `at most ${this.config.delivery.maxTokens}` },
      ]);
    }
    assertWithinBudget(body, MAX_JOB_CHARS, 'messages');
    // Messages are stored as jsonb, which refuses a lone surrogate (JSON.stringify escapes it
    // as \udXXX): refused here, naming the message, rather than a 500 at the insert.
    const malformed = body.messages.findIndex((m) => !m.role.isWellFormed() || !m.content.isWellFormed());
    if (malformed >= 0)
      throw new DomainError('VALIDATION_FAILED', `messages[${malformed}]: not valid Unicode (a lone surrogate)`, [
        { field: `messages[${malformed}]`, message: 'not valid Unicode (a lone surrogate)' },
      ]);
    if (body.callbackUrl !== undefined) this.checkCallbackUrl(body.callbackUrl);
    if (!this.config.modelClasses.includes(body.modelClass))
      throw new DomainError('UNKNOWN_MODEL_CLASS', `${body.modelClass} is not one of ${this.config.modelClasses.join(', ')}`);
    if (body.region && !this.config.regions.includes(body.region))
      throw new DomainError('UNKNOWN_REGION', `${body.region} is not one of ${this.config.regions.join(', ')}`);
    const obligationSeries = body.series
      ? undefined
      : await this.obligationRows.seriesOfBuyers(this.tx.root, body.obligationId, p.memberId);
    // Only fixed terms are checked (settlement type, model class, regions, window): cached listing.
    const series = body.series
      ? await this.listings.seriesByCode(body.series)
      : obligationSeries
        ? await this.listings.seriesById(obligationSeries)
        : null;
    if (!series) throw new DomainError('NOT_FOUND', body.series ? `series ${body.series} not found` : 'obligation not found');
    if (series.product.settlementType !== 'PHYSICAL')
      throw new DomainError('SETTLEMENT_TYPE_MISMATCH', `${series.code} is cash-settled: nothing to deliver`);
    if (body.modelClass !== series.product.modelClass)
      throw new DomainError('MODEL_CLASS_MISMATCH', `${series.code} delivers ${series.product.modelClass}`);
    if (body.region && !series.product.regions.includes(body.region))
      throw new DomainError('REGION_NOT_ALLOWED', `${series.code} delivers in ${series.product.regions.join(', ')}`);
    const now = this.clock.now();
    if (now >= series.deliveryEnd)
      throw new DomainError('NO_ENTITLEMENT', `the delivery window of ${series.code} ended at ${series.deliveryEnd.toISOString()}`);
    // Fair attribution (SPEC §6.1): a job the operator could not finish before the window ends,
    // even at the product's guaranteed rate, is refused now — it would otherwise become the
    // operator's shortfall (and penalty) through no fault of theirs.
    const latestStart = lastStartFor(series.deliveryEnd, body.maxTokens, series.product.minTokensPerSecond);
    if (now > latestStart)
      throw new DomainError(
        'DELIVERY_WINDOW_TOO_SHORT',
        `${body.maxTokens} tokens at ${series.product.minTokensPerSecond} tokens/s cannot finish before ${series.code}'s window ends at ${series.deliveryEnd.toISOString()} (latest start ${latestStart.toISOString()})`,
      );
    // The clearing house's own count of the prompt, once, with the product's pinned tokenizer:
    // counted while the submission waits for its batch (the batch awaits it before writing).
    const countedPromptTokens = settledLater(this.counter.prompt(series.product, body.messages));

    if (fromKey && (await this.jobs.exists(this.tx.root, id))) return { view: await this.view(id), audited: false };
    const { job, audited } = await this.submissions.submit({
      id,
      fromKey,
      buyerId: p.memberId,
      series,
      obligationId: body.obligationId ?? null,
      modelClass: body.modelClass,
      region: body.region ?? null,
      messages: body.messages,
      maxTokens: body.maxTokens,
      callbackUrl: body.callbackUrl ?? null,
      countedPromptTokens,
      audit,
    });
    return { view: jobView(job, series.code, null), audited };
  }

  /** SPEC §6.2: https to a public address (names are checked again, resolved, at send time). */
  private checkCallbackUrl(url: string): void {
    try {
      this.egress.checkUrl(url);
    } catch (err) {
      if (!(err instanceof EgressRefused)) throw err;
      throw new DomainError('CALLBACK_URL_NOT_ALLOWED', err.message, [{ field: 'callbackUrl', message: err.message }]);
    }
  }

  /** A job's webhook attempts, oldest first: its buyer and clearing staff only (the URL is the buyer's). */
  async webhookDeliveries(p: Principal, id: string, q: { cursor?: string; limit: number }) {
    const job = await loadOwned(
      p,
      'delivery job',
      () => this.jobs.find(this.tx.root, id),
      (j) => j.buyerId,
    );
    const key = decodeCursor(q.cursor, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\|[0-9a-f-]{36}$/);
    const [createdAt, rowId] = key?.split('|') ?? [];
    const rows = await this.webhookRows.attempts(
      this.tx.root,
      job.id,
      key ? { createdAt: new Date(createdAt), id: rowId } : undefined,
      q.limit,
    );
    return toPage(
      rows,
      q.limit,
      (r) => `${r.createdAt.toISOString()}|${r.id}`,
      (r) => ({
        id: r.id,
        jobId: r.jobId,
        attempt: r.attempt,
        url: r.url,
        outcome: r.ok ? 'DELIVERED' : r.refused ? 'REFUSED' : 'FAILED',
        httpStatus: r.httpStatus,
        error: r.error,
        at: r.createdAt.toISOString(),
      }),
    );
  }

  async view(id: string) {
    const { job, seriesCode, usage } = await this.jobs.withView(this.tx.root, id);
    return jobView(job, seriesCode, usage);
  }

  /** The buyer who submitted it, the operator who delivers it, and clearing staff may see a job. */
  async get(p: Principal, id: string) {
    const job = await loadOwned(
      p,
      'delivery job',
      () => this.jobs.find(this.tx.root, id),
      (j) => (p.memberId === j.sellerId ? j.sellerId : j.buyerId),
    );
    return this.view(job.id);
  }

  async listJobs(p: Principal, q: { status?: DeliveryJobStatus; limit: number; cursor?: string }) {
    const after = decodeCursor(q.cursor, /^\d+$/);
    const scope = memberScope(p);
    const rows = await this.jobs.page(this.tx.root, {
      memberId: scope,
      status: q.status,
      beforeSeq: after ? BigInt(after) : undefined,
      limit: q.limit,
    });
    const [codes, usage] = await Promise.all([
      this.markets.seriesCodes(
        this.tx.root,
        rows.map((r) => r.seriesId),
      ),
      this.jobs.usageOf(
        this.tx.root,
        rows.map((r) => r.id),
      ),
    ]);
    const usageOf = new Map(usage.map((u) => [u.jobId, u]));
    return toPage(
      rows,
      q.limit,
      (r) => r.seq.toString(),
      (r) => ({
        ...jobView(r, codes.get(r.seriesId)!, usageOf.get(r.id) ?? null),
        messages: undefined,
        output: undefined,
        decisions: undefined,
      }),
    );
  }

  async obligations(p: Principal, q: { series?: string; status?: ObligationStatus; limit: number; cursor?: string }) {
    const scope = memberScope(p);
    const seriesId = q.series ? await this.markets.seriesIdByCode(this.tx.root, q.series) : undefined;
    if (q.series && !seriesId) throw new DomainError('NOT_FOUND', `series ${q.series} not found`);
    const after = decodeCursor(q.cursor, /^[0-9a-f-]{36}$/);
    const rows = await this.obligationRows.page(this.tx.root, {
      memberId: scope,
      seriesId: seriesId ?? undefined,
      status: q.status,
      afterId: after,
      limit: q.limit,
    });
    const codes = await this.markets.seriesCodes(
      this.tx.root,
      rows.map((r) => r.seriesId),
    );
    return toPage(
      rows,
      q.limit,
      (r) => r.id,
      (r) => obligationView(r, codes.get(r.seriesId)!),
    );
  }

  /** Quality-spec breaches summed per operator (own; clearing sees all), paged by operator id. */
  async quality(p: Principal, q: { limit: number; cursor?: string }) {
    const after = decodeCursor(q.cursor, /^[0-9a-f-]{36}$/);
    const rows = await this.repo.quality(this.tx.root, { operatorId: memberScope(p), afterOperatorId: after, limit: q.limit });
    return toPage(
      rows,
      q.limit,
      (r) => r.operatorId,
      (r) => ({
        operatorId: r.operatorId,
        jobs: Number(r.jobs),
        billableTokens: Number(r.billableTokens),
        ttftBreaches: Number(r.ttftBreaches),
        rateBreaches: Number(r.rateBreaches),
        meteringDiscrepancies: Number(r.discrepancies),
        impossibleTimings: Number(r.timingFlags),
        verificationsPassed: Number(r.verificationsPassed),
        verificationsFailed: Number(r.verificationsFailed),
      }),
    );
  }
}
