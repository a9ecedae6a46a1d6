import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedFor } from '../../src/delivery/domain/verification.js';
import {
  closeWindow,
  completionOf,
  expire,
  honestOutput,
  physicalMarket,
  submitJob,
  waitFor,
  type LeasedJob,
  type PhysicalMarket,
} from '../harness/delivery-fixtures.js';
import type { TestNode } from '../harness/capacity-factories.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';
import { VerificationService } from '../../src/delivery/verification.service.js';

/**
 * SPEC §6.1, verification by re-execution, through the node API by hand: a re-run is leased only
 * by another operator's node, carries its original's seed, completes on the single endpoint
 * (replays answer the same); with no other operator it waits and is dropped NOT_VERIFIED when the
 * window ends — the original back to NONE, no fee, no shortfall.
 */
const KEY = 'q'.repeat(40);

describe('verification re-runs', () => {
  let t: TestApp;
  let m: PhysicalMarket;

  const lease = (node: TestNode) =>
    waitFor(
      'a job leased',
      async () =>
        (
          await t
            .client(node.nodeToken)
            .post<{ jobs: (LeasedJob & { seed: number })[] }>(`/v1/nodes/${node.id}/lease`, { maxJobs: 1, waitSeconds: 1 })
        ).body.jobs[0],
      20_000,
    );
  const complete = (node: TestNode, j: LeasedJob, output = honestOutput(40)) => {
    // The single endpoint's body: a batch item without its job id.
    const { jobId: _, ...body } = completionOf(j, j.leaseToken, output);
    return t
      .client(node.nodeToken)
      .post(`/v1/delivery/jobs/${j.id}/complete`, { ...body, usage: { prompt_tokens: 8, completion_tokens: 40 } });
  };

  beforeAll(async () => {
    t = await startTestApp({ env: { DELIVERY_REAP_MS: '200', VERIFICATION_SAMPLING_KEY: KEY } });
    m = await physicalMarket(t, {
      operators: 2,
      nodesPerOperator: 1,
      buyers: 1,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
      product: { verificationBp: 10_000 },
    });
    await expire(t, m);
  }, 60_000);
  afterAll(() => t?.close());

  it('goes to the other operator with the original seed; the single endpoint completes it, a replay changes nothing', async () => {
    const [seller, verifier] = m.operators;
    const submitted = await submitJob(m.buyers[0], m.series, 40, 'ok');
    expect(submitted.status, submitted.text).toBe(201);
    const original = await lease(seller.nodes[0]);
    expect(original.seed).toBe(seedFor(original.id, KEY));
    expect((await complete(seller.nodes[0], original)).status).toBe(200);
    expect((await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: original.id } })).verification).toBe('PENDING');

    const rerun = await lease(verifier.nodes[0]);
    expect(rerun.seed).toBe(seedFor(original.id, KEY));
    // The verifying node cannot tell it is re-running someone else's job: the seed it gets is not
    // one it could compute from the id it leased, for a re-run or for any job (the seed was the
    // public hash of the id: a re-run's seed did not match its own id, every other job's did).
    const publicSeed = (id: string) => createHash('sha256').update(`seed:${id}`).digest().readUInt32BE(0) & 0x7fffffff;
    expect([original.seed === publicSeed(original.id), rerun.seed === publicSeed(rerun.id)]).toEqual([false, false]);
    // The creating message delivered again (a relay retry): no second re-run, nothing else moves.
    expect(await t.app.get(VerificationService).create({ jobIds: [original.id] })).toBe('created 0 of 1');
    expect(await t.prisma.deliveryJob.count({ where: { verifiesJobId: original.id } })).toBe(1);
    // One re-run per original is the database's rule too, whoever writes the second.
    await expect(
      t.prisma.$executeRaw`
        INSERT INTO delivery_jobs (id, "buyerId", "seriesId", "obligationId", "sellerId", "modelClass", messages, "maxTokens", "reservedTokens", "verifiesJobId")
        SELECT gen_random_uuid(), "buyerId", "seriesId", "obligationId", "sellerId", "modelClass", messages, "maxTokens", 0, id FROM delivery_jobs WHERE id = ${original.id}::uuid`,
    ).rejects.toThrow(/delivery_jobs_verifiesJobId_key/);
    expect(rerun.messages).toEqual(original.messages);
    // The seller's own node is never offered its re-run.
    const own = await t
      .client(seller.nodes[0].nodeToken)
      .post<{ jobs: LeasedJob[] }>(`/v1/nodes/${seller.nodes[0].id}/lease`, { maxJobs: 1, waitSeconds: 0 });
    expect(own.body.jobs).toEqual([]);
    const first = await complete(verifier.nodes[0], rerun);
    expect(first.status, first.text).toBe(200);
    const again = await complete(verifier.nodes[0], rerun);
    expect(again.status, again.text).toBe(200);
    expect(first.body).toMatchObject({ id: rerun.id, status: 'COMPLETED', replayed: false });
    expect(again.body).toEqual({ ...first.body, replayed: true });

    const judged = await waitFor('the original judged', async () => {
      const j = await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: original.id } });
      return j.verification !== 'PENDING' && j;
    });
    expect(judged).toMatchObject({ verification: 'PASSED', similarityBp: 10_000, verifierNodeId: verifier.nodes[0].id });
    // Paid once: 42 billable tokens at 400.00 / 1,000,000 tokens = 1 fen (rounded down).
    const fees = await t.prisma.transfer.findMany({ where: { kind: 'FEE', jobId: rerun.id } });
    expect(fees.map((f) => f.amountFen)).toEqual([1n]);
    await expectLedgerConsistent(t.prisma);
  }, 60_000);

  it('given up by the verifier, or with no other operator online (it waits, then is dropped NOT_VERIFIED): at the window end the originals are NONE, no fee, no shortfall', async () => {
    const [seller, verifier] = m.operators;
    // First a re-run the verifier's node gives up for good: the verifier's failure, nobody's shortfall.
    expect((await submitJob(m.buyers[0], m.series, 40, 'first')).status).toBe(201);
    const givenUp = await lease(seller.nodes[0]);
    expect((await complete(seller.nodes[0], givenUp)).status).toBe(200);
    const failing = await lease(verifier.nodes[0]);
    const failed = await t
      .client(verifier.nodes[0].nodeToken)
      .post(`/v1/delivery/jobs/${failing.id}/fail`, { leaseToken: failing.leaseToken, reason: 'CUDA out of memory', retryable: false });
    expect(failed.status, failed.text).toBe(200);
    expect((await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: givenUp.id } })).verification).toBe('PENDING');

    expect((await verifier.member.client.patch(`/v1/nodes/${verifier.nodes[0].id}`, { status: 'DRAINING' })).status).toBe(200);
    const submitted = await submitJob(m.buyers[0], m.series, 40, 'a');
    expect(submitted.status, submitted.text).toBe(201);
    const original = await lease(seller.nodes[0]);
    expect((await complete(seller.nodes[0], original)).status).toBe(200);
    const rerun = await waitFor('the re-run waiting for a node', async () => {
      const r = await t.prisma.deliveryJob.findFirst({ where: { verifiesJobId: original.id } });
      return r && JSON.stringify(r.decisions).includes('NO_ELIGIBLE_NODE') ? r : undefined;
    });
    expect(rerun.status).toBe('QUEUED');
    expect(JSON.stringify(rerun.decisions)).toContain('no ONLINE node of another operator');

    await closeWindow(t, m);
    const dropped = await waitFor('the re-run dropped', async () => {
      const r = await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: rerun.id } });
      return r.status === 'FAILED' && r;
    });
    expect(dropped).toMatchObject({ failureCode: 'NOT_VERIFIED', operatorFault: false });
    expect((await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: original.id } })).verification).toBe('NONE');
    expect((await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: givenUp.id } })).verification).toBe('NONE');
    expect(await t.prisma.transfer.count({ where: { kind: 'FEE', jobId: rerun.id } })).toBe(0);
    const o = await t.prisma.deliveryObligation.findFirstOrThrow({ where: { seriesId: m.seriesId } });
    expect(o).toMatchObject({ status: 'CLOSED', shortfallTokens: 0n, penaltyFen: 0n, reservedTokens: 0n });

    const run = await t.clearing.post('/v1/reconciliation/runs', {});
    expect(run.status, run.text).toBe(201);
    for (const type of ['VERIFICATION_FAILED', 'DELIVERED_TOKENS', 'USAGE_VS_SCHEDULER', 'ESCROW']) {
      const open = await t.clearing.get<{ items: unknown[] }>(`/v1/reconciliation/breaks?type=${type}&status=OPEN&limit=10`);
      expect(open.body.items, type).toEqual([]);
    }
    await expectLedgerConsistent(t.prisma);
  }, 60_000);
});
