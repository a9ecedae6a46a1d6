import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, type TestMember } from '../harness/factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import {
  expire,
  honestOutput,
  ONE_WORD_PROMPT_TOKENS,
  physicalMarket,
  submitJob,
  waitFor,
  type LeasedJob,
  type PhysicalMarket,
} from '../harness/delivery-fixtures.js';
import { NodeQueues } from '../../src/delivery/node-queues.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';
import type { ApiClient } from '../harness/http.js';

const LEASE_MS = 1_500;

/** The node side of the protocol driven by hand, to hit the edges an agent normally avoids. */
describe('leases and exactly-once metering', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  let buyer: TestMember;
  let node: ApiClient;
  let nodeId: string;
  // Honest: what the clearing house counts for a one-word prompt and 100 output tokens —
  // billable 100 + ⌊8 × 25 %⌋ = 102.
  const usage = { prompt_tokens: ONE_WORD_PROMPT_TOKENS, completion_tokens: 100 };

  const lease = async (waitSeconds = 5) => {
    const res = await node.post<{ jobs: LeasedJob[] }>(`/v1/nodes/${nodeId}/lease`, { maxJobs: 1, waitSeconds });
    expect(res.status, res.text).toBe(200);
    return res.body.jobs;
  };
  const complete = (id: string, leaseToken: string, u = usage) =>
    node.post<{ status: string; replayed: boolean }>(`/v1/delivery/jobs/${id}/complete`, {
      leaseToken,
      usage: u,
      // Fast, so no SLA breach whatever the machine's load: 100 tokens in 200 ms ≥ 100 tokens/s.
      ttftMs: 50,
      durationMs: 200,
      output: honestOutput(100),
    });
  const obligation = () => t.prisma.deliveryObligation.findFirstOrThrow({ where: { seriesId: m.seriesId } });

  beforeAll(async () => {
    t = await startTestApp({
      env: { DELIVERY_LEASE_MS: String(LEASE_MS), DELIVERY_REAP_MS: '100', DELIVERY_STALE_MS: '1000', DELIVERY_MAX_ATTEMPTS: '3' },
    });
    m = await physicalMarket(t, {
      operators: 1,
      nodesPerOperator: 1,
      buyers: 1,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
    });
    await expire(t, m);
    buyer = m.buyers[0];
    nodeId = m.operators[0].nodes[0].id;
    node = t.client(m.operators[0].nodes[0].nodeToken);
  });
  afterAll(() => t.close());

  it('hands a dispatched job to its node over HTTP with a lease token (long-poll)', async () => {
    const leasing = lease(5); // waits: nothing dispatched yet
    const job = await submitJob(buyer, m.series, 200, 'first');
    const [got] = await leasing;
    expect(got).toMatchObject({ id: job.body.id, maxTokens: 200, messages: [{ role: 'user', content: 'first' }] });
    // The entry it came in and the lock taken on it.
    expect(got.leaseToken).toMatch(new RegExp(`^${got.id}\\.0~[A-Za-z0-9_-]{22}$`));
    expect((await t.clearing.get(`/v1/delivery/jobs/${got.id}`)).body).toMatchObject({ status: 'LEASED', nodeId });
    expect(await lease(0)).toEqual([]);
    expectProblem(await t.client('tcn_wrong').post(`/v1/nodes/${nodeId}/lease`, {}), 401, 'NODE_TOKEN_INVALID');

    // The same completion twice at once, then a third with other numbers: one effect.
    const [a, b] = await Promise.all([complete(got.id, got.leaseToken), complete(got.id, got.leaseToken)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect([a.body.replayed, b.body.replayed].sort((x, y) => Number(x) - Number(y))).toEqual([false, true]);
    const third = await complete(got.id, got.leaseToken, { prompt_tokens: 1, completion_tokens: 999 });
    expect(third.body).toMatchObject({ status: 'COMPLETED', replayed: true });
    expect(await t.prisma.usageRecord.count({ where: { jobId: got.id } })).toBe(1);
    expect(await obligation()).toMatchObject({ deliveredTokens: 102n, reservedTokens: 0n });
    // 102 of 1,000,000 tokens at 400.00: floor(40,000 × 102 / 1,000,000) = 4 fen.
    expect(await t.prisma.transfer.findMany({ where: { jobId: got.id }, select: { amountFen: true, kind: true } })).toEqual([
      { amountFen: 4n, kind: 'ESCROW_RELEASE' },
    ]);
    expectProblem(
      await node.post(`/v1/delivery/jobs/${got.id}/fail`, { leaseToken: got.leaseToken, reason: 'late', retryable: true }),
      409,
      'LEASE_STALE',
    );
    expectProblem(await complete(got.id, 'f'.repeat(32)), 409, 'JOB_FINISHED');
    const view = await buyer.client.get<{ usage: { billableTokens: number }; sla: { met: boolean }; attempts: number }>(
      `/v1/delivery/jobs/${got.id}`,
    );
    expect(view.body).toMatchObject({
      usage: { billableTokens: 102, prompt_tokens: 8, completion_tokens: 100 },
      sla: { met: true },
      attempts: 1,
    });
  });

  it('a completion after the lease expired and the job was re-dispatched is refused and changes nothing', async () => {
    const job = await submitJob(buyer, m.series, 300, 'second');
    const [first] = await lease();
    expect(first.id).toBe(job.body.id);
    await waitFor(
      'lease to expire and the job to be dispatched again',
      async () => {
        const row = await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: first.id } });
        return row.attempt === 1 && row.status === 'DISPATCHED';
      },
      15_000,
    );
    const before = await obligation();
    expectProblem(await complete(first.id, first.leaseToken), 409, 'LEASE_STALE');
    expect(await obligation()).toEqual(before);
    expect(await t.prisma.usageRecord.count({ where: { jobId: first.id } })).toBe(0);

    const [second] = await lease();
    expect(second.id).toBe(first.id);
    expect(second.leaseToken).not.toBe(first.leaseToken);
    expect((await complete(second.id, second.leaseToken)).status).toBe(200);
    expect(await t.prisma.usageRecord.count({ where: { jobId: first.id } })).toBe(1);
    const decisions = JSON.stringify((await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: first.id } })).decisions);
    expect(decisions).toContain('LEASE_EXPIRED');
  });

  it('heartbeats extend the leases of their node', async () => {
    await submitJob(buyer, m.series, 10, 'third');
    const [got] = await lease();
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 400));
      expect((await node.post(`/v1/nodes/${nodeId}/heartbeat`, {})).status).toBe(200);
    }
    // 3.2 s later, more than twice the lease: still ours.
    expect((await complete(got.id, got.leaseToken)).status).toBe(200);
  });

  it("a heartbeat naming the agent's leases keeps those alive and lets a lease the agent never received expire", async () => {
    await submitJob(buyer, m.series, 10, 'kept');
    const [kept] = await lease();
    await submitJob(buyer, m.series, 10, 'lost in transit');
    const [lost] = await lease();
    // The agent only knows of `kept` (the answer that carried `lost` never reached it).
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 400));
      expect((await node.post(`/v1/nodes/${nodeId}/heartbeat`, { leases: [kept.leaseToken] })).status).toBe(200);
    }
    expect((await complete(kept.id, kept.leaseToken)).status).toBe(200);
    expectProblem(await complete(lost.id, lost.leaseToken), 409, 'LEASE_STALE');
    const again = await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: lost.id } });
    expect(again.attempt).toBe(1);
    expect((again.decisions as { event?: string }[]).some((d) => d.event === 'LEASE_EXPIRED')).toBe(true);
    // Leased again, it completes once.
    const [retry] = await lease();
    expect(retry.id).toBe(lost.id);
    expect((await complete(retry.id, retry.leaseToken)).status).toBe(200);
    expectProblem(await node.post(`/v1/nodes/${nodeId}/heartbeat`, { leases: ['x'.repeat(65)] }), 400, 'VALIDATION_FAILED');
  });

  it('a job another transaction holds (as a completion batch does) holds back neither the other leases nor, once free, its own', async () => {
    await submitJob(buyer, m.series, 10, 'held by a completion');
    const [held] = await lease();
    await submitJob(buyer, m.series, 10, 'free to extend');
    const [free] = await lease();
    const expiry = async (id: string) => (await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id } })).leaseExpiresAt!.getTime();
    const before = { held: await expiry(held.id), free: await expiry(free.id) };
    // A transaction holds `held` the way a completion batch does (FOR UPDATE) — or a node naming
    // it in report after report — while the heartbeat comes in. Waiting for it in index order,
    // the extension used to deadlock with completion batches; passing over it for good, it would
    // let whoever holds the row starve the lease until it lapsed.
    const extendedWhileHeld = await t.prisma.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT id FROM delivery_jobs WHERE id = ${held.id}::uuid FOR UPDATE`;
      expect((await node.post(`/v1/nodes/${nodeId}/heartbeat`, {})).status).toBe(200);
      let extended = false;
      for (const deadline = Date.now() + 1_000; !extended && Date.now() < deadline; await new Promise((r) => setTimeout(r, 25)))
        extended = (await expiry(free.id)) > before.free;
      expect(await expiry(held.id)).toBe(before.held);
      return extended;
    });
    expect(extendedWhileHeld, 'the free lease waited for the held one').toBe(true);
    // The same heartbeat extends the held lease once its row is free: no second heartbeat needed.
    await waitFor('the held lease extended', async () => (await expiry(held.id)) > before.held, 5_000);
    for (const job of [held, free]) expect((await complete(job.id, job.leaseToken)).status).toBe(200);
  });

  it('a retryable failure goes back to dispatch; after the last attempt the job FAILS for the operator and its reservation is freed', async () => {
    const job = await submitJob(buyer, m.series, 50, 'doomed');
    for (let attempt = 0; attempt < 3; attempt++) {
      const [got] = await lease();
      expect(got.id).toBe(job.body.id);
      const res = await node.post<{ status: string; attempt: number }>(`/v1/delivery/jobs/${got.id}/fail`, {
        leaseToken: got.leaseToken,
        reason: 'CUDA out of memory',
        retryable: true,
      });
      expect(res.status, res.text).toBe(200);
      expect(res.body.status).toBe(attempt < 2 ? 'QUEUED' : 'FAILED');
    }
    const view = await buyer.client.get<{ status: string; failure: { code: string; operatorFault: boolean } }>(
      `/v1/delivery/jobs/${job.body.id}`,
    );
    expect(view.body).toMatchObject({ status: 'FAILED', failure: { code: 'OPERATOR_FAILURE', operatorFault: true } });
    expect((await obligation()).reservedTokens).toBe(0n);
    await expectLedgerConsistent(t.prisma);
  });

  it('a failure whose reason holds a lone surrogate is recorded (as U+FFFD), not a 500 that strands the job', async () => {
    await submitJob(buyer, m.series, 10, 'odd failure');
    const [got] = await lease();
    const res = await node.post<{ status: string }>(`/v1/delivery/jobs/${got.id}/fail`, {
      leaseToken: got.leaseToken,
      reason: 'driver said \ud800',
      retryable: true,
    });
    expect(res.status, res.text).toBe(200);
    const job = await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: got.id } });
    expect(JSON.stringify(job.decisions)).toContain('driver said \ufffd');
    // Gone back to dispatch: lease and deliver it once.
    const [again] = await lease();
    expect(again.id).toBe(got.id);
    expect((await complete(again.id, again.leaseToken)).status).toBe(200);
  });

  it('records quality-spec breaches per job and sums them per operator', async () => {
    const op = m.operators[0].member;
    type Quality = { items: { operatorId: string; ttftBreaches: number; rateBreaches: number; jobs: number }[] };
    // The earlier tests' jobs count too (a loaded machine may make one of them slow): compare sums.
    const before = (await op.client.get<Quality>('/v1/delivery/quality')).body.items[0];
    await submitJob(buyer, m.series, 10, 'slow one');
    const [got] = await lease();
    // Verdicts use timings bounded by the server's clock (lease → report), so the job really
    // takes its time — its lease kept alive by a heartbeat naming it: TTFT 2.2 s > 2 s allowed;
    // 2 tokens in 2.4 s < 100 tokens/s.
    await new Promise((r) => setTimeout(r, 1_200));
    expect((await node.post(`/v1/nodes/${nodeId}/heartbeat`, { leases: [got.leaseToken] })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_300));
    const res = await node.post(`/v1/delivery/jobs/${got.id}/complete`, {
      leaseToken: got.leaseToken,
      usage: { prompt_tokens: 9, completion_tokens: 2 },
      ttftMs: 2_200,
      durationMs: 2_400,
      output: honestOutput(2),
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ sla: { ttftBreach: true, rateBreach: true, met: false } });
    const q = await op.client.get<Quality>('/v1/delivery/quality');
    expect(q.body.items).toEqual([
      expect.objectContaining({
        operatorId: op.id,
        jobs: before.jobs + 1,
        ttftBreaches: before.ttftBreaches + 1,
        rateBreaches: before.rateBreaches + 1,
      }),
    ]);
    expectProblem(await buyer.client.get('/v1/delivery/quality'), 403, 'FORBIDDEN_ROLE');
  });

  it('a lease request that took a node entry and died before recording the lease does not strand the job: the reaper puts the entry back once its lock lapses', async () => {
    const job = await submitJob(buyer, m.series, 20, 'orphaned');
    await waitFor(
      'job dispatched',
      async () => (await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: job.body.id } })).status === 'DISPATCHED',
      10_000,
    );
    // What a lease request does first (BullMQ takes the entry under a lock owned by the lease
    // token), without what it does next (record the lease in Postgres): the process died between.
    const taken = await t.app.get(NodeQueues).take(nodeId, 'died-before-recording-the-lease');
    expect(taken?.data).toEqual({ jobId: job.body.id, attempt: 0 });
    expect(await lease(0)).toEqual([]);

    // Postgres still says DISPATCHED to this node: once the entry's lock (one lease period) has
    // lapsed, the reaper replaces it and the node gets the job.
    let got: LeasedJob | undefined;
    await waitFor('job leased again', async () => ([got] = await lease(1)).length > 0, 15_000);
    expect(got!.id).toBe(job.body.id);
    expect((await complete(got!.id, got!.leaseToken)).body).toMatchObject({ status: 'COMPLETED', replayed: false });
    await expectLedgerConsistent(t.prisma);
  });
});
