import { Inject, Injectable, Logger } from '@nestjs/common';
import { UnrecoverableError } from 'bullmq';
import { createHmac, randomBytes } from 'node:crypto';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { EgressPolicy, EgressRefused } from '../platform/egress/egress-policy.js';
import { guardedPost } from '../platform/egress/guarded-post.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { JobHandler } from '../platform/queues/job-handler.decorator.js';
import type { JobPayloads } from '../platform/queues/job-registry.js';
import { DeliveryJobsRepository } from './delivery-jobs.repository.js';
import { DeliveryJobsService } from './delivery-jobs.service.js';
import { WebhooksRepository } from './webhooks.repository.js';

export const SIGNATURE_HEADER = 'X-TokenClear-Signature';

/**
 * `X-TokenClear-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` with the
 * buyer's webhook secret — the timestamp inside the signed text lets receivers refuse replays.
 */
export function signWebhook(secret: string, body: string, at: number): string {
  return `t=${at},v1=${createHmac('sha256', secret).update(`${at}.${body}`).digest('hex')}`;
}

@Injectable()
export class WebhooksService {
  private readonly logger = new Logger(WebhooksService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly repo: WebhooksRepository,
    private readonly stored: DeliveryJobsRepository,
    private readonly jobs: DeliveryJobsService,
    private readonly egress: EgressPolicy,
  ) {}

  /** The member's secret, created on first use (signing needs it in clear). */
  async secret(memberId: string): Promise<string> {
    return this.repo.secretOrCreate(this.tx.root, memberId, newSecret());
  }

  async rotate(memberId: string): Promise<string> {
    const secret = newSecret();
    await this.repo.replaceSecret(this.tx.root, memberId, secret);
    return secret;
  }

  /** One delivery attempt; a refusal throws so BullMQ retries with backoff. Every attempt is recorded. */
  @JobHandler('delivery.webhook')
  async deliver({ jobId }: JobPayloads['delivery.webhook'], meta?: { attempt: number }): Promise<number> {
    const job = await this.stored.find(this.tx.root, jobId);
    if (!job?.callbackUrl || (job.status !== 'COMPLETED' && job.status !== 'FAILED')) return 0;
    const body = JSON.stringify({
      event: job.status === 'COMPLETED' ? 'delivery.job.completed' : 'delivery.job.failed',
      job: await this.jobs.view(jobId),
    });
    const signature = signWebhook(await this.secret(job.buyerId), body, Math.floor(Date.now() / 1000));
    let httpStatus: number | undefined;
    let error: string | undefined;
    let refused = false;
    try {
      // Resolved, checked and connected to by address here, at send time: a name that now points
      // inside (DNS rebinding) is refused; no redirect is followed; the answer is capped.
      const res = await guardedPost(
        this.egress,
        job.callbackUrl,
        { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature, 'X-TokenClear-Job': jobId },
        body,
        { timeoutMs: this.config.delivery.webhookTimeoutMs, maxResponseBytes: this.config.webhooks.maxResponseBytes },
      );
      httpStatus = res.status;
      if (res.status < 200 || res.status >= 300) error = `answered ${res.status}`;
    } catch (err) {
      refused = err instanceof EgressRefused;
      error = (err as Error).message.slice(0, 500);
    }
    await this.repo.recordAttempt(this.tx.root, {
      jobId,
      memberId: job.buyerId,
      url: job.callbackUrl,
      attempt: meta?.attempt ?? 1,
      httpStatus,
      error,
      ok: !error,
      refused,
    });
    if (refused) {
      // The address is what is wrong, not the moment: retrying would knock on the same door.
      this.logger.warn({ job: jobId, url: job.callbackUrl, error }, 'webhook refused by the egress policy; not retried');
      throw new UnrecoverableError(`webhook to ${job.callbackUrl} refused: ${error}`);
    }
    if (error) {
      this.logger.warn({ job: jobId, url: job.callbackUrl, error }, 'webhook not accepted; will retry');
      throw new Error(`webhook to ${job.callbackUrl} ${error}`);
    }
    return httpStatus!;
  }
}

function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64url')}`;
}
