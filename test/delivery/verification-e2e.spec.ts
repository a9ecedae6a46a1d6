import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/delivery/counting/tokenizers.js';
import { tokenSimilarityBp } from '../../src/delivery/domain/similarity.js';
import {
  expire,
  fakeInferenceServer,
  physicalMarket,
  startAgent,
  submitJob,
  waitFor,
  type PhysicalMarket,
} from '../harness/delivery-fixtures.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { assertBuilt, type Spawned } from '../harness/processes.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

/**
 * SPEC §6.1, verification by re-execution, with agent processes: every job (verificationBp 10,000)
 * is re-run on the node of another operator with the original's seed at temperature 0. An honest
 * simulated node is reproduced exactly; a node whose output is not what the model gives for that
 * prompt and seed (an OpenAI-compatible server answering something else) fails, pays the penalty
 * and opens a break. The verifier is paid from ccp:fees at the obligation price.
 *
 * Prices: 40,000.00 a contract of 1,000,000 tokens (4 fen a token). A 40-token answer to a one-word
 * prompt is 40 + ⌊8 × 25 %⌋ = 42 billable tokens: 168 fen.
 */
describe('verification by re-execution', () => {
  let t: TestApp;
  let inference: Awaited<ReturnType<typeof fakeInferenceServer>>;
  const agents: Spawned[] = [];
  const spec = {
    operators: 2,
    nodesPerOperator: 1,
    buyers: 1,
    trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
    // 40,000.00 a contract of 1,000,000 tokens: 4 fen a token.
    price: '40000.00',
    cash: '1000000.00',
    product: { verificationBp: 10_000 },
  } satisfies Parameters<typeof physicalMarket>[1];

  const fees = async () => (await t.prisma.ledgerAccount.findUniqueOrThrow({ where: { code: 'ccp:fees' } })).balanceFen;
  const cash = async (memberId: string) =>
    (await t.prisma.ledgerAccount.findUniqueOrThrow({ where: { code: `member:${memberId}:cash` } })).balanceFen;
  const submit = async (m: PhysicalMarket, words: string[]) => {
    const ids: string[] = [];
    for (const w of words) {
      const res = await submitJob(m.buyers[0], m.series, 40, w);
      expect(res.status, res.text).toBe(201);
      ids.push(res.body.id);
    }
    return ids;
  };
  const judged = (ids: string[]) =>
    waitFor(
      'every job verified',
      async () => {
        const jobs = await t.prisma.deliveryJob.findMany({ where: { id: { in: ids } } });
        return jobs.every((j) => j.verification === 'PASSED' || j.verification === 'FAILED') && jobs;
      },
      60_000,
    );
  const openBreaks = async (type: string) =>
    (
      await t.clearing.get<{ items: { id: string; type: string; key: string; memberId: string }[] }>(
        `/v1/reconciliation/breaks?type=${type}&status=OPEN&limit=500`,
      )
    ).body.items;
  const reconcile = async () => {
    const run = await t.clearing.post<{ id: string }>('/v1/reconciliation/runs', {});
    expect(run.status, run.text).toBe(201);
  };

  beforeAll(async () => {
    assertBuilt();
    t = await startTestApp({ env: { DELIVERY_LEASE_MS: '5000', DELIVERY_REAP_MS: '200' } });
    inference = await fakeInferenceServer();
  }, 60_000);
  afterAll(async () => {
    for (const a of agents) a.child.kill('SIGKILL');
    await inference?.close();
    await t?.close();
  });

  let honest: PhysicalMarket;

  it('an honest node is reproduced: PASSED at 10,000 bp, the verifier paid from ccp:fees, no money of the buyer', async () => {
    const m = (honest = await physicalMarket(t, spec));
    await expire(t, m);
    const [seller, verifier] = m.operators;
    agents.push(startAgent(t, seller.nodes[0]), startAgent(t, verifier.nodes[0]));
    const feesBefore = await fees();
    const verifierCash = await cash(verifier.member.id);

    const ids = await submit(m, ['ok', 'a', 'first']);
    const jobs = await judged(ids);
    const o = await t.prisma.deliveryObligation.findFirstOrThrow({ where: { seriesId: m.seriesId } });
    for (const j of jobs) {
      expect(j).toMatchObject({ status: 'COMPLETED', verification: 'PASSED', similarityBp: 10_000, verifierNodeId: verifier.nodes[0].id });
      const rerun = await t.prisma.deliveryJob.findFirstOrThrow({ where: { verifiesJobId: j.id } });
      // The re-run: the same request, done by the other operator, reserving nothing, metered against nothing.
      expect(rerun).toMatchObject({
        status: 'COMPLETED',
        sellerId: verifier.member.id,
        nodeId: verifier.nodes[0].id,
        obligationId: o.id,
        reservedTokens: 0n,
        maxTokens: j.maxTokens,
        output: j.output,
      });
      expect(rerun.messages).toEqual(j.messages);
      expect(await t.prisma.usageRecord.count({ where: { jobId: rerun.id } })).toBe(0);
      const view = await m.buyers[0].client.get<{ verification: unknown }>(`/v1/delivery/jobs/${j.id}`);
      expect(view.body.verification).toEqual({ status: 'PASSED', similarityBp: 10_000, verifierNodeId: verifier.nodes[0].id });
    }
    // The buyer's list shows the jobs it submitted; the re-runs are the verifier's.
    const listed = await m.buyers[0].client.get<{ items: { id: string }[] }>('/v1/delivery/jobs?limit=100');
    expect(listed.body.items.map((i) => i.id).sort()).toEqual([...ids].sort());
    const verifierList = await verifier.member.client.get<{ items: { id: string }[] }>('/v1/delivery/jobs?limit=100');
    expect(verifierList.body.items).toHaveLength(3);
    // The obligation is what the originals delivered (3 × 42), nothing reserved left.
    expect(o).toMatchObject({ deliveredTokens: 126n, reservedTokens: 0n, releasedFen: 504n });
    // Each verifier run: 42 billable tokens at 4 fen, from ccp:fees (idempotent by re-run id).
    const paid = await t.prisma.transfer.findMany({ where: { kind: 'FEE', creditAccount: { code: `member:${verifier.member.id}:cash` } } });
    expect(paid).toHaveLength(3);
    for (const p of paid) expect(p.amountFen).toBe((o.notionalFen * 42n) / o.tokens);
    expect(paid.map((p) => p.amountFen)).toEqual([168n, 168n, 168n]);
    expect(await fees()).toBe(feesBefore - 504n);
    expect(await cash(verifier.member.id)).toBe(verifierCash + 504n);

    await reconcile();
    for (const type of ['VERIFICATION_FAILED', 'DELIVERED_TOKENS', 'USAGE_VS_SCHEDULER', 'ESCROW'])
      expect(await openBreaks(type)).toEqual([]);
    await expectLedgerConsistent(t.prisma);
  }, 90_000);

  it('a node whose output differs for the same prompt and seed: FAILED, penalty to the buyer, VERIFICATION_FAILED, counted as a breach', async () => {
    // The first market's nodes leave: its operators must not verify this one's jobs.
    for (const a of agents.splice(0)) a.child.kill('SIGKILL');
    for (const op of honest.operators)
      expect((await op.member.client.patch(`/v1/nodes/${op.nodes[0].id}`, { status: 'DRAINING' })).status).toBe(200);

    const m = await physicalMarket(t, spec);
    await expire(t, m);
    const [seller, verifier] = m.operators;
    const buyer = m.buyers[0];
    // The seller's node answers from a server that is not the model (the same 40 words whatever the seed).
    agents.push(startAgent(t, seller.nodes[0], ['--inference-url', inference.url]), startAgent(t, verifier.nodes[0]));
    const feesBefore = await fees();

    const ids = await submit(m, ['ok', 'a']);
    const jobs = await judged(ids);
    const encoder = await loadTokenizer('llama3');
    const o = await t.prisma.deliveryObligation.findFirstOrThrow({ where: { seriesId: m.seriesId } });
    for (const j of jobs) {
      const rerun = await t.prisma.deliveryJob.findFirstOrThrow({ where: { verifiesJobId: j.id } });
      const similarity = tokenSimilarityBp(encoder.encode(j.output!), encoder.encode(rerun.output!));
      expect(similarity).toBeLessThan(9_000);
      expect(j).toMatchObject({ verification: 'FAILED', similarityBp: similarity, verifierNodeId: verifier.nodes[0].id });
      // The penalty: 20 % of the job's value (42 billable tokens at 4 fen = 168 fen), rounded against the seller: 34 fen.
      const penalty = await t.prisma.transfer.findMany({ where: { kind: 'PENALTY', jobId: j.id } });
      expect(penalty).toHaveLength(1);
      expect(penalty[0].amountFen).toBe(34n);
      const accounts = await t.prisma.ledgerAccount.findMany({
        where: { id: { in: [penalty[0].debitAccountId, penalty[0].creditAccountId] } },
      });
      const code = (id: string) => accounts.find((a) => a.id === id)!.code;
      expect(code(penalty[0].debitAccountId)).toBe(`member:${seller.member.id}:cash`);
      expect(code(penalty[0].creditAccountId)).toBe(`member:${buyer.id}:cash`);
    }
    const usage = await t.prisma.usageRecord.findMany({ where: { jobId: { in: ids } } });
    expect(usage.map((u) => u.billableTokens)).toEqual([42n, 42n]);
    expect(o.deliveredTokens).toBe(84n);
    // The verifier is paid for its honest 40 words all the same.
    expect(await fees()).toBe(feesBefore - 336n);

    await reconcile();
    const breaks = await openBreaks('VERIFICATION_FAILED');
    expect(breaks.map((b) => b.key).sort()).toEqual([...ids].sort());
    expect(new Set(breaks.map((b) => b.memberId))).toEqual(new Set([seller.member.id]));
    for (const type of ['DELIVERED_TOKENS', 'USAGE_VS_SCHEDULER', 'ESCROW']) expect(await openBreaks(type)).toEqual([]);
    // A resolved break stays resolved on the next run.
    const resolved = await t.clearing.post(`/v1/reconciliation/breaks/${breaks[0].id}/resolve`, { comment: 'operator re-imaged the node' });
    expect(resolved.status, resolved.text).toBeLessThan(300);
    await reconcile();
    expect((await openBreaks('VERIFICATION_FAILED')).map((b) => b.key)).toEqual([breaks[1].key]);

    const quality = await t.clearing.get<{ items: { operatorId: string; verificationsPassed: number; verificationsFailed: number }[] }>(
      '/v1/delivery/quality?limit=100',
    );
    expect(quality.body.items.find((q) => q.operatorId === seller.member.id)).toMatchObject({
      verificationsPassed: 0,
      verificationsFailed: 2,
    });
    expect(quality.body.items.find((q) => q.operatorId === honest.operators[0].member.id)).toMatchObject({
      verificationsPassed: 3,
      verificationsFailed: 0,
    });
    await expectLedgerConsistent(t.prisma);
  }, 120_000);
});
