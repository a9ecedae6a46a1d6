import { NodeAudit } from './node-audit.js';
import { randomUUID } from 'node:crypto';
import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ApiBearerAuth, ApiParam, ApiTags } from '@nestjs/swagger';
import type { NodePrincipal } from '../capacity/node-token.guard.js';
import { NodeAuth, NodeAuthForJob } from '../capacity/node-token.guard.js';
import { Audited, NotAudited } from '../platform/audit/audited.decorator.js';
import { IssuesSecret } from '../platform/idempotency/issues-secret.decorator.js';
import { CurrentPrincipal, Roles } from '../platform/auth/auth.decorators.js';
import { assertCanSee } from '../platform/auth/ownership.js';
import { uuidParam } from '../platform/http/params.js';
import type { Principal, TcRequest } from '../platform/http/request-context.js';
import { idForRequest } from '../platform/idempotency/deterministic-id.js';
import { DeliveryJobsService } from './delivery-jobs.service.js';
import { assertWithinBudget } from '../platform/http/body-limits.js';
import {
  CompleteJobDto,
  CompletionsDto,
  FailJobDto,
  JobsQueryDto,
  LeaseDto,
  MAX_BATCH_CHARS,
  MAX_REPORT_CHARS,
  ObligationsQueryDto,
  QualityQueryDto,
  SubmitJobDto,
  SubmitJobsDto,
} from './dto/delivery.dto.js';
import { AuditRecorder } from '../platform/audit/audit-recorder.js';
import { toProblem } from '../platform/errors/problem.js';
import { LeaseService } from './lease.service.js';
import { MeteringService } from './metering.service.js';
import { WebhooksService } from './webhooks.service.js';

type NodeRequest = TcRequest & { node: NodePrincipal };

const jobId = (id: string) => uuidParam(id, 'job');

@ApiTags('delivery')
@ApiBearerAuth()
@Controller('v1')
export class DeliveryController {
  constructor(
    private readonly jobs: DeliveryJobsService,
    private readonly leases: LeaseService,
    private readonly metering: MeteringService,
    private readonly webhooks: WebhooksService,
    private readonly auditRecorder: AuditRecorder,
    private readonly nodeAudit: NodeAudit,
  ) {}

  @Get('obligations')
  obligations(@CurrentPrincipal() p: Principal, @Query() q: ObligationsQueryDto) {
    return this.jobs.obligations(p, { series: q.series, status: q.status, cursor: q.cursor, limit: q.limit ?? 50 });
  }

  @Post('delivery/jobs')
  @Roles('buyer')
  @Audited('delivery.job.submit', 'delivery-job')
  async submit(
    @CurrentPrincipal() p: Principal,
    @Body() body: SubmitJobDto,
    @Req() req: TcRequest,
    @Headers('idempotency-key') key?: string,
  ) {
    const fromKey = idForRequest('delivery-job', p.memberId, key);
    // Committed with the job, before the response: an accepted job is answered 201.
    const { view, audited } = await this.jobs.submit(
      p,
      body,
      fromKey ?? randomUUID(),
      fromKey !== undefined,
      this.auditRecorder.entry(req, { outcome: 'SUCCESS', httpStatus: 201 }),
    );
    req.auditedInTransaction = audited;
    return view;
  }

  /**
   * Up to 100 jobs in one request, each judged exactly as if submitted alone (in the order
   * given) and answered on its own: 201 with the job in short, or its problem. With an Idempotency-Key,
   * job i gets the id of key "<key>#i", so a replayed batch finds its jobs.
   */
  @Post('delivery/jobs/batch')
  @Roles('buyer')
  @Audited('delivery.job.submit-batch', 'delivery-job-batch')
  @HttpCode(200)
  async submitBatch(
    @CurrentPrincipal() p: Principal,
    @Body() body: SubmitJobsDto,
    @Req() req: TcRequest,
    @Headers('idempotency-key') key?: string,
  ) {
    assertWithinBudget(body, MAX_BATCH_CHARS, 'jobs');
    // One success audit event for the request, not one per job (SPEC §6.2: batched audit rows are
    // fine): its target is the submission's id, which every job it created carries. A row per job
    // was the largest single statement of the delivery path (issue 20's throughput).
    const submissionId = randomUUID();
    const entry = this.auditRecorder.entry(req, { outcome: 'SUCCESS', httpStatus: 200, targetId: submissionId });
    const submission = { id: submissionId, entry, audited: false };
    const results = await Promise.allSettled(
      body.jobs.map((job, i) => {
        const fromKey = idForRequest('delivery-job', p.memberId, key === undefined ? undefined : `${key}#${i}`);
        return this.jobs.submit(p, job, fromKey ?? randomUUID(), fromKey !== undefined, submission);
      }),
    );
    // Each job in short (GET /v1/delivery/jobs/:id has the rest).
    const items = results.map((r) => {
      if (r.status === 'rejected') return { status: toProblem(r.reason).status, problem: toProblem(r.reason) };
      const { id, series, obligationId, status, maxTokens, timings } = r.value.view;
      return { status: 201, job: { id, series, obligationId, status, maxTokens, createdAt: timings.createdAt } };
    });
    // The submission's audit event committed with its jobs; each refusal is recorded here, under
    // the same target, so one lookup finds the whole request.
    await Promise.all(
      items.flatMap((it) =>
        it.problem
          ? [
              this.auditRecorder.record(req, {
                outcome: 'FAILURE',
                httpStatus: it.status,
                errorCode: it.problem.code,
                action: 'delivery.job.submit',
                targetId: submission.id,
              }),
            ]
          : [],
      ),
    );
    req.auditedInTransaction = true;
    return { items };
  }

  @Get('delivery/jobs')
  list(@CurrentPrincipal() p: Principal, @Query() q: JobsQueryDto) {
    return this.jobs.listJobs(p, { status: q.status, cursor: q.cursor, limit: q.limit ?? 50 });
  }

  @Get('delivery/jobs/:id')
  get(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    return this.jobs.get(p, jobId(id));
  }

  /** Every attempt to deliver the job's webhook, oldest first (refused ones included). */
  @Get('delivery/jobs/:id/webhook-deliveries')
  @Roles('buyer', 'clearing')
  webhookDeliveries(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Query() q: QualityQueryDto) {
    return this.jobs.webhookDeliveries(p, jobId(id), { cursor: q.cursor, limit: q.limit ?? 50 });
  }

  /** Quality-spec breaches summed per operator (own; clearing sees all). */
  @Get('delivery/quality')
  @Roles('operator', 'clearing')
  quality(@CurrentPrincipal() p: Principal, @Query() q: QualityQueryDto) {
    return this.jobs.quality(p, { cursor: q.cursor, limit: q.limit ?? 50 });
  }

  @Post('nodes/:id/lease')
  @ApiParam({ name: 'id', type: String, description: 'the node (its token authenticates it)' })
  @NodeAuth()
  @NotAudited()
  @HttpCode(200)
  async lease(@Req() req: NodeRequest, @Res({ passthrough: true }) res: Response, @Body() body: LeaseDto) {
    // The agent hung up (or is shutting down): stop waiting. The response closing before it was
    // written is the reliable signal; the request's own 'close' fires once its body is read.
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableEnded) abort.abort();
    });
    // The audit row is committed with the leases it records (none for an empty long-poll).
    const audit = this.nodeAudit.entry(req, req.node, 'delivery.lease', { type: 'node', id: req.node.nodeId });
    const jobs = await this.leases.lease(req.node, body.maxJobs ?? 1, body.waitSeconds ?? 0, abort.signal, audit);
    return { jobs };
  }

  @Post('delivery/jobs/:id/complete')
  @NodeAuthForJob()
  @NotAudited()
  @HttpCode(200)
  async complete(@Req() req: NodeRequest, @Param('id') id: string, @Body() body: CompleteJobDto) {
    const outcome = await this.metering.complete(req.node, jobId(id), body);
    if (!outcome.replayed) await this.nodeAudit.record(req, req.node, 'delivery.complete', { type: 'delivery-job', id });
    return { ...(await this.jobs.view(id)), replayed: outcome.replayed };
  }

  /**
   * The agent's way to report many completions at once: each applied exactly as through
   * /delivery/jobs/:id/complete, each answered on its own (200 with `replayed`, or its problem).
   */
  @Post('nodes/:id/completions')
  @ApiParam({ name: 'id', type: String, description: 'the node (its token authenticates it)' })
  @NodeAuth()
  @NotAudited()
  @HttpCode(200)
  async completions(@Req() req: NodeRequest, @Body() body: CompletionsDto) {
    assertWithinBudget(body, MAX_REPORT_CHARS, 'completions', 'PAYLOAD_TOO_LARGE');
    // One audit row for the report, committed with its first completion (not a transaction of its own after).
    const entry = this.nodeAudit.entry(req, req.node, 'delivery.completions', { type: 'node', id: req.node.nodeId });
    const audit = entry ? { entry, audited: false } : undefined;
    const results = await Promise.allSettled(
      body.completions.map(({ jobId: id, ...completion }) => this.metering.complete(req.node, id, completion, audit)),
    );
    return {
      items: results.map((r, i) => {
        const id = body.completions[i].jobId;
        return r.status === 'fulfilled'
          ? { jobId: id, status: 200, replayed: r.value.replayed, jobStatus: 'COMPLETED' }
          : { jobId: id, status: toProblem(r.reason).status, problem: toProblem(r.reason) };
      }),
    };
  }

  @Post('delivery/jobs/:id/fail')
  @NodeAuthForJob()
  @NotAudited()
  @HttpCode(200)
  async fail(@Req() req: NodeRequest, @Param('id') id: string, @Body() body: FailJobDto) {
    const failed = await this.leases.fail(req.node, jobId(id), body);
    await this.nodeAudit.record(req, req.node, 'delivery.fail', { type: 'delivery-job', id });
    return failed;
  }

  /** A new webhook signing secret for the member, shown once (the old one stops signing at once). */
  @Post('members/:id/webhook-secret')
  @Roles('buyer', 'clearing')
  @Audited('delivery.webhook-secret.rotate', 'member')
  @IssuesSecret('webhook secret')
  async rotateSecret(@CurrentPrincipal() p: Principal, @Param('id') memberId: string) {
    assertCanSee(p, uuidParam(memberId, 'member'), 'member');
    return {
      memberId,
      secret: await this.webhooks.rotate(memberId),
      header: 'X-TokenClear-Signature',
      scheme: 't=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>',
    };
  }
}
