import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobBatchRepository } from '../../src/delivery/job-batch.repository.js';
import { postgresError } from '../../src/platform/prisma/postgres-error.js';
import { expectProblem, type TestMember } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import {
  completionOf,
  expire,
  honestOutput,
  physicalMarket,
  waitFor,
  type LeasedJob,
  type PhysicalMarket,
} from '../harness/delivery-fixtures.js';
import type { ApiClient } from '../harness/http.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

interface BatchItem {
  status: number;
  job?: { id: string; status: string; obligationId: string };
  problem?: { code: string };
}

const job = (series: string, maxTokens: number, extra: Record<string, unknown> = {}) => ({
  series,
  modelClass: 'llm-70b-instruct',
  messages: [{ role: 'user', content: 'ok' }],
  maxTokens,
  ...extra,
});

/** The batch endpoints (buyers submit many jobs, agents report many completions) and the checks behind their one-transaction batches. */
describe('delivery batches', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  let buyer: TestMember;
  let node: ApiClient;
  let nodeId: string;
  const obligation = () => t.prisma.deliveryObligation.findFirstOrThrow({ where: { seriesId: m.seriesId } });

  beforeAll(async () => {
    t = await startTestApp({ env: { DELIVERY_MAX_TOKENS: '400000' } });
    // One contract: 1,000,000 tokens at 400.00.
    m = await physicalMarket(t, {
      operators: 1,
      nodesPerOperator: 2,
      buyers: 1,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
    });
    await expire(t, m);
    buyer = m.buyers[0];
    nodeId = m.operators[0].nodes[0].id;
    node = t.client(m.operators[0].nodes[0].nodeToken);
    // Only the first node takes work, so this test's leases find every job.
    const other = m.operators[0].nodes[1];
    expect((await t.client(m.operators[0].member.key).patch(`/v1/nodes/${other.id}`, { status: 'DRAINING' })).status).toBe(200);
  });
  afterAll(() => t.close());

  it('POST /v1/delivery/jobs/batch judges each job in order as if alone, answers each, and writes nothing for a refused one', async () => {
    const res = await buyer.client.post<{ items: BatchItem[] }>('/v1/delivery/jobs/batch', {
      jobs: [
        job(m.series, 400_000),
        job(m.series, 10, { obligationId: randomUUID() }),
        job(m.series, 400_000),
        job(m.series, 400_000),
        job(m.series, 1),
      ],
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.map((i) => i.status)).toEqual([201, 422, 201, 201, 422]);
    // An obligation id that is not one of the buyer's draws on nothing.
    expect(res.body.items[1].problem?.code).toBe('NO_ENTITLEMENT');
    expect(res.body.items[4].problem?.code).toBe('NO_ENTITLEMENT');
    const ids = res.body.items.flatMap((i) => (i.job ? [i.job.id] : []));
    const rows = await t.prisma.deliveryJob.findMany({ where: { id: { in: ids } }, orderBy: { seq: 'asc' } });
    // The third takes what is left of the obligation: 1,000,000 − 2 × 400,000.
    expect(rows.map((r) => [r.id, r.reservedTokens])).toEqual([
      [ids[0], 400_000n],
      [ids[1], 400_000n],
      [ids[2], 200_000n],
    ]);
    expect(await t.prisma.deliveryJob.count({ where: { seriesId: m.seriesId } })).toBe(3);
    expect((await obligation()).reservedTokens).toBe(1_000_000n);
    // One success event for the request, committed with its jobs, naming the submission every
    // stored job carries (GET /v1/delivery/jobs/:id shows it); one failure per refusal.
    const views = await Promise.all(ids.map((id) => buyer.client.get<{ submissionId: string | null }>(`/v1/delivery/jobs/${id}`)));
    const submissionIds = new Set(views.map((v) => v.body.submissionId));
    expect(submissionIds.size).toBe(1);
    const [submissionId] = [...submissionIds];
    expect(submissionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(rows.every((r) => r.submissionId === submissionId)).toBe(true);
    const successes = await t.prisma.auditEvent.findMany({
      where: { actorMemberId: buyer.id, outcome: 'SUCCESS', action: { startsWith: 'delivery.' } },
    });
    expect(successes.map((a) => [a.action, a.targetType, a.targetId, a.httpStatus])).toEqual([
      ['delivery.job.submit-batch', 'delivery-job-batch', submissionId, 200],
    ]);
    const failures = await t.prisma.auditEvent.findMany({ where: { actorMemberId: buyer.id, outcome: 'FAILURE' } });
    expect(failures.map((a) => [a.action, a.targetType, a.targetId, a.errorCode])).toEqual([
      ['delivery.job.submit', 'delivery-job-batch', submissionId, 'NO_ENTITLEMENT'],
      ['delivery.job.submit', 'delivery-job-batch', submissionId, 'NO_ENTITLEMENT'],
    ]);
    // Clearing staff find the whole request from any of its jobs: the submission is the target
    // of its success event and of each refusal.
    const staff = await t.clearing.get<{ items: { targetId: string; action: string; outcome: string }[] }>(
      `/v1/audit-events?targetType=delivery-job-batch&targetId=${submissionId}`,
    );
    expect(staff.status, staff.text).toBe(200);
    expect(staff.body.items.map((a) => `${a.action} ${a.outcome}`).sort((x, y) => x.localeCompare(y))).toEqual([
      'delivery.job.submit FAILURE',
      'delivery.job.submit FAILURE',
      'delivery.job.submit-batch SUCCESS',
    ]);

    expectProblem(
      await t.client(m.operators[0].member.key).post('/v1/delivery/jobs/batch', { jobs: [job(m.series, 1)] }),
      403,
      'FORBIDDEN_ROLE',
    );
    expectProblem(await buyer.client.post('/v1/delivery/jobs/batch', { jobs: [] }), 400, 'VALIDATION_FAILED');
  });

  it('a buyer cannot choose the submission its jobs belong to (to hide them under the audit event of another request)', async () => {
    const [other] = await t.prisma.auditEvent.findMany({ where: { action: 'delivery.job.submit-batch' }, take: 1 });
    expect(other?.targetId).toBeTruthy();
    const before = await t.prisma.deliveryJob.count({ where: { seriesId: m.seriesId } });
    expectProblem(
      await buyer.client.post('/v1/delivery/jobs/batch', { jobs: [{ ...job(m.series, 1), submissionId: other.targetId }] }),
      400,
      'VALIDATION_FAILED',
    );
    expectProblem(
      await buyer.client.post('/v1/delivery/jobs/batch', { jobs: [job(m.series, 1)], submissionId: other.targetId }),
      400,
      'VALIDATION_FAILED',
    );
    expect(await t.prisma.deliveryJob.count({ where: { seriesId: m.seriesId } })).toBe(before);
  });

  it('POST /v1/nodes/:id/completions applies each completion once; a duplicate is a replay, a stale lease is refused, others still apply', async () => {
    const leased = await waitFor(
      'three jobs leased',
      async () => {
        const res = await node.post<{ jobs: LeasedJob[] }>(`/v1/nodes/${nodeId}/lease`, { maxJobs: 3, waitSeconds: 1 });
        return res.body.jobs.length === 3 ? res.body.jobs : undefined;
      },
      10_000,
    );
    const [a, b, c] = leased;
    const done = (j: LeasedJob, leaseToken = j.leaseToken) => completionOf(j, leaseToken);
    const res = await node.post<{ items: { jobId: string; status: number; replayed?: boolean; problem?: { code: string } }[] }>(
      `/v1/nodes/${nodeId}/completions`,
      {
        completions: [done(a), done(a), done(b, 'f'.repeat(32)), done(c)],
      },
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.map((i) => [i.jobId, i.status, i.replayed ?? i.problem?.code])).toEqual([
      [a.id, 200, false],
      [a.id, 200, true],
      [b.id, 409, 'LEASE_STALE'],
      [c.id, 200, false],
    ]);
    const usage = await t.prisma.usageRecord.findMany({ where: { obligationId: (await obligation()).id } });
    expect(usage.map((u) => u.jobId).sort()).toEqual([a.id, c.id].sort());
    const o = await obligation();
    // 100 + ⌊8 × 25 %⌋ = 102 billable tokens each, as counted; b keeps its reservation (still leased).
    expect(o.deliveredTokens).toBe(usage.reduce((s, u) => s + u.creditedTokens, 0n));
    expect(o.deliveredTokens).toBe(204n);
    expect(o.releasedFen).toBe(usage.reduce((s, u) => s + u.releasedFen, 0n));
    expect(o.reservedTokens).toBe(
      (await t.prisma.deliveryJob.findMany({ where: { status: { in: ['QUEUED', 'DISPATCHED', 'LEASED'] } } })).reduce(
        (s, j) => s + j.reservedTokens,
        0n,
      ),
    );
    expect((await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: b.id } })).status).toBe('LEASED');
    expect((await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: a.id } })).output).toBe(honestOutput(100));

    // Another node's token may not report for this node.
    expectProblem(
      await t.client(m.operators[0].nodes[1].nodeToken).post(`/v1/nodes/${nodeId}/completions`, { completions: [done(b)] }),
      404,
      'NOT_FOUND',
    );
    await expectLedgerConsistent(t.prisma);
  });

  it('a lease takes at most 256 jobs and a report carries at most 256 completions', async () => {
    const lease = (maxJobs: number) => node.post(`/v1/nodes/${nodeId}/lease`, { maxJobs, waitSeconds: 0 });
    expect((await lease(256)).status).toBe(200);
    expectProblem(await lease(257), 400, 'VALIDATION_FAILED');
    const one = {
      jobId: randomUUID(),
      leaseToken: 'x',
      usage: { prompt_tokens: 1, completion_tokens: 1 },
      ttftMs: 1,
      durationMs: 1,
      output: '',
    };
    expectProblem(
      await node.post(`/v1/nodes/${nodeId}/completions`, { completions: Array.from({ length: 257 }, () => one) }),
      400,
      'VALIDATION_FAILED',
    );
    // 256 unknown jobs: accepted as a request, each answered on its own.
    const res = await node.post<{ items: { status: number }[] }>(`/v1/nodes/${nodeId}/completions`, {
      completions: Array.from({ length: 256 }, () => ({ ...one, jobId: randomUUID() })),
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.items).toHaveLength(256);
    expect(new Set(res.body.items.map((i) => i.status))).toEqual(new Set([404]));
  });

  it('a batch written over obligations that moved since it read them fails whole with TCR01, leaving no trace', async () => {
    const repo = t.app.get(JobBatchRepository);
    const o = await obligation();
    // Reserving more than is left (as if completions and other submissions took it meanwhile).
    const tooMuch = {
      id: randomUUID(),
      buyerId: o.buyerId,
      seriesId: o.seriesId,
      obligationId: o.id,
      sellerId: o.sellerId,
      modelClass: 'llm-70b-instruct',
      region: null,
      messages: [],
      maxTokens: 1,
      reservedTokens: o.tokens,
      callbackUrl: null,
      countedPromptTokens: 0,
      submissionId: null,
      decisions: [],
    };
    const submit = t.prisma.sqlTransaction((tx) => repo.insertJobs(tx, [tooMuch]));
    await expect(submit.catch((err: unknown) => postgresError(err)?.code)).resolves.toBe('TCR01');
    expect(await t.prisma.deliveryJob.count({ where: { id: tooMuch.id } })).toBe(0);
    expect((await obligation()).reservedTokens).toBe(o.reservedTokens);

    // A completion metered from delivered/released figures that are no longer current.
    const leased = await t.prisma.deliveryJob.findFirstOrThrow({ where: { status: 'LEASED' } });
    const metered = {
      jobId: leased.id,
      obligationId: o.id,
      nodeId,
      operatorId: o.sellerId,
      promptTokens: 0n,
      completionTokens: 10n,
      billableTokens: 10n,
      creditedTokens: 10n,
      excessTokens: 0n,
      releasedFen: 0n,
      ttftMs: 1,
      durationMs: 1,
      ttftBreach: false,
      rateBreach: false,
      output: 'x',
      reportedPromptTokens: 0,
      reportedCompletionTokens: 10,
      reportedTtftMs: 1,
      reportedDurationMs: 1,
      usageEstimated: false,
      tokenizer: 'llama3',
      discrepancyBp: 0,
      outputSha256: '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881',
      meteringFlagged: false,
      timingFlagged: false,
      verify: false,
    };
    const stale = {
      id: o.id,
      before: { deliveredTokens: o.deliveredTokens - 1n, releasedFen: o.releasedFen },
      deliveredTokens: o.deliveredTokens + 10n,
      unreserve: leased.reservedTokens,
      excess: 0n,
      releasedFen: 0n,
    };
    const complete = t.prisma.sqlTransaction((tx) => repo.recordCompletions(tx, [metered], [stale]));
    await expect(complete.catch((err: unknown) => postgresError(err)?.code)).resolves.toBe('TCR01');
    expect(await t.prisma.usageRecord.count({ where: { jobId: leased.id } })).toBe(0);
    expect(await obligation()).toMatchObject({ deliveredTokens: o.deliveredTokens, reservedTokens: o.reservedTokens });
    expect((await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: leased.id } })).status).toBe('LEASED');
  });
  it('a prompt with a lone surrogate is refused on its own (400 naming the message), its batch neighbour judged as if alone', async () => {
    const before = await t.prisma.deliveryJob.count({ where: { seriesId: m.seriesId } });
    const bad = job(m.series, 1, {
      messages: [
        { role: 'system', content: 'fine' },
        { role: 'user', content: 'half an emoji \ud83d' },
      ],
    });
    const alone = await buyer.client.post<{ items: { status: number }[] }>('/v1/delivery/jobs/batch', { jobs: [job(m.series, 1)] });
    const res = await buyer.client.post<{ items: { status: number; problem?: { code: string; detail: string } }[] }>(
      '/v1/delivery/jobs/batch',
      {
        jobs: [job(m.series, 1), bad],
      },
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.map((i) => i.status)).toEqual([alone.body.items[0].status, 400]);
    expect(res.body.items[1].problem).toMatchObject({ code: 'VALIDATION_FAILED', detail: expect.stringContaining('messages[1]') });
    expectProblem(await buyer.client.post('/v1/delivery/jobs', bad), 400, 'VALIDATION_FAILED');
    const accepted = [alone, res].filter((r) => r.body.items[0].status === 201).length;
    expect(await t.prisma.deliveryJob.count({ where: { seriesId: m.seriesId } })).toBe(before + accepted);
  });
});
