import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import type { ApiClient } from '../harness/http.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { loadTokenizer, type TokenizerName } from '../../src/delivery/counting/tokenizers.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

/**
 * SPEC §6.1, "the clearing house owns the meter": a seller's node that lies about what it
 * delivered, driven through the public API with its real node token. The seller is paid exactly
 * the obligation price × the tokens the clearing house counted; the lies are flagged and become
 * breaks; the buyer's other jobs still deliver.
 */
describe('a dishonest node', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  let node: ApiClient;
  let nodeId: string;

  const leaseOne = () =>
    waitFor(
      'a job leased',
      async () => {
        const res = await node.post<{ jobs: LeasedJob[] }>(`/v1/nodes/${nodeId}/lease`, { maxJobs: 1, waitSeconds: 1 });
        return res.body.jobs[0];
      },
      20_000,
    );
  const obligation = () => t.prisma.deliveryObligation.findFirstOrThrow({ where: { seriesId: m.seriesId } });
  const released = async (jobIds: string[]) =>
    (await t.prisma.transfer.findMany({ where: { kind: 'ESCROW_RELEASE', jobId: { in: jobIds } } })).reduce((s, x) => s + x.amountFen, 0n);

  beforeAll(async () => {
    t = await startTestApp();
    m = await physicalMarket(t, {
      operators: 1,
      nodesPerOperator: 1,
      buyers: 1,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
    });
    await expire(t, m);
    nodeId = m.operators[0].nodes[0].id;
    node = t.client(m.operators[0].nodes[0].nodeToken);
  });
  afterAll(() => t.close());

  it('over-reported usage, usage above maxTokens, empty output with tokens claimed, durationMs 0: paid the count only, flagged, breaks opened', async () => {
    const buyer = m.buyers[0];
    // One job at a time, each answered in its own dishonest way. Reported timings of the first
    // three are possible (3 ms ≤ lease to report, ≥ the physical floor for what was counted).
    const lies: { maxTokens: number; body: (j: LeasedJob) => Record<string, unknown>; billable: bigint }[] = [
      // 10,000,000 tokens claimed for maxTokens 1 (50 delivered): 1 + ⌊8 × 25 %⌋ = 3 billable.
      {
        maxTokens: 1,
        body: (j) => ({
          leaseToken: j.leaseToken,
          usage: { prompt_tokens: 8, completion_tokens: 10_000_000 },
          ttftMs: 1,
          durationMs: 3,
          output: honestOutput(50),
        }),
        billable: 3n,
      },
      // Empty output, 100 tokens claimed: only the prompt's share, ⌊8 × 25 %⌋ = 2.
      {
        maxTokens: 100,
        body: (j) => ({
          leaseToken: j.leaseToken,
          usage: { prompt_tokens: 8, completion_tokens: 100 },
          ttftMs: 1,
          durationMs: 3,
          output: '',
        }),
        billable: 2n,
      },
      // 20 tokens delivered, 100 claimed (and 500 prompt tokens): 20 + 2 = 22.
      {
        maxTokens: 100,
        body: (j) => ({
          leaseToken: j.leaseToken,
          usage: { prompt_tokens: 500, completion_tokens: 100 },
          ttftMs: 1,
          durationMs: 3,
          output: honestOutput(20),
        }),
        billable: 22n,
      },
      // Honest tokens but durationMs 0 (faster than physically possible): 100 + 2 = 102, timing flagged.
      {
        maxTokens: 100,
        body: (j) => ({
          leaseToken: j.leaseToken,
          usage: { prompt_tokens: 8, completion_tokens: 100 },
          ttftMs: 0,
          durationMs: 0,
          output: honestOutput(100),
        }),
        billable: 102n,
      },
    ];
    const ids: string[] = [];
    for (const lie of lies) {
      const submitted = await submitJob(buyer, m.series, lie.maxTokens, 'ok');
      expect(submitted.status, submitted.text).toBe(201);
      const job = await leaseOne();
      expect(job.id).toBe(submitted.body.id);
      const res = await node.post(`/v1/delivery/jobs/${job.id}/complete`, lie.body(job));
      expect(res.status, res.text).toBe(200);
      ids.push(job.id);
    }
    const usage = await t.prisma.usageRecord.findMany({ where: { jobId: { in: ids } } });
    const byJob = new Map(usage.map((u) => [u.jobId, u]));
    expect(ids.map((id) => byJob.get(id)!.billableTokens)).toEqual(lies.map((l) => l.billable));
    expect(ids.map((id) => byJob.get(id)!.promptTokens)).toEqual(ids.map(() => BigInt(ONE_WORD_PROMPT_TOKENS)));
    // The report is kept beside the count.
    expect(byJob.get(ids[0])).toMatchObject({ reportedCompletionTokens: 10_000_000n, completionTokens: 1n, tokenizer: 'llama3' });
    const jobs = await t.prisma.deliveryJob.findMany({
      where: { id: { in: ids } },
      select: { id: true, meteringFlagged: true, timingFlagged: true },
    });
    const flags = new Map(jobs.map((j) => [j.id, [j.meteringFlagged, j.timingFlagged]]));
    expect(ids.map((id) => flags.get(id))).toEqual([
      [true, false],
      [true, false],
      [true, false],
      [false, true],
    ]);

    // Paid exactly price × counted billable: 400.00 per 1,000,000 tokens, cumulative, rounded down.
    const counted = lies.reduce((s, l) => s + l.billable, 0n); // 129
    expect(await released(ids)).toBe((40_000n * counted) / 1_000_000n);
    expect((await obligation()).deliveredTokens).toBe(counted);

    // The job view shows what was reported beside what was counted.
    const view = await buyer.client.get<{ metering: Record<string, unknown> }>(`/v1/delivery/jobs/${ids[0]}`);
    expect(view.body.metering).toMatchObject({
      reported: { promptTokens: 8, completionTokens: 10_000_000 },
      counted: { promptTokens: 8, completionTokens: 1 },
      billableTokens: 3,
      tokenizer: 'llama3',
      flagged: true,
    });

    // Reconciliation turns each metering lie into a break against the operator.
    const run = await t.clearing.post<{ id: string }>('/v1/reconciliation/runs', {});
    expect(run.status, run.text).toBe(201);
    const breaks = await t.clearing.get<{ items: { type: string; key: string; memberId: string }[] }>(
      '/v1/reconciliation/breaks?type=METERING_DISCREPANCY&status=OPEN&limit=500',
    );
    expect(breaks.body.items.map((b) => b.key).sort()).toEqual(ids.slice(0, 3).sort());
    expect(new Set(breaks.body.items.map((b) => b.memberId))).toEqual(new Set([m.operators[0].member.id]));
    const quality = await t.clearing.get<{ items: { operatorId: string; meteringDiscrepancies: number; impossibleTimings: number }[] }>(
      '/v1/delivery/quality',
    );
    expect(quality.body.items).toEqual([
      expect.objectContaining({ operatorId: m.operators[0].member.id, meteringDiscrepancies: 3, impossibleTimings: 1 }),
    ]);

    // The buyer's next, honest job still delivers and is paid in full.
    const honest = await submitJob(buyer, m.series, 100, 'ok');
    const job = await leaseOne();
    expect(job.id).toBe(honest.body.id);
    const res = await node.post(`/v1/delivery/jobs/${job.id}/complete`, {
      leaseToken: job.leaseToken,
      usage: { prompt_tokens: 8, completion_tokens: 100 },
      ttftMs: 1,
      durationMs: 100,
      output: honestOutput(100),
    });
    expect(res.status, res.text).toBe(200);
    expect((await obligation()).deliveredTokens).toBe(counted + 102n);
    expect(await released([...ids, job.id])).toBe((40_000n * (counted + 102n)) / 1_000_000n);
    await expectLedgerConsistent(t.prisma);
  });

  it('an output built to split differently at the word cuts is paid on the count of the whole text, its words remembered or not', async () => {
    // Combining marks, CJK, digits, a special token, a contraction, no-break and double spaces
    // around the cuts the counter makes (before " " + letter): the count is the whole text's.
    const crafted = ` token token\u0301 交割 token 12345 token <|eot_id|> token 'll token \u00a0token  token é token`;
    for (const round of ['first seen', 'every word remembered']) {
      const submitted = await submitJob(m.buyers[0], m.series, 1_000, `crafted ${round}`);
      expect(submitted.status, submitted.text).toBe(201);
      const job = await leaseOne();
      expect(job.id).toBe(submitted.body.id);
      const res = await node.post<{ items: { status: number }[] }>(`/v1/nodes/${nodeId}/completions`, {
        completions: [
          {
            jobId: job.id,
            leaseToken: job.leaseToken,
            usage: { prompt_tokens: 8, completion_tokens: 1_000 },
            ttftMs: 1,
            durationMs: 1_000,
            output: crafted,
          },
        ],
      });
      expect(res.body.items, res.text).toEqual([expect.objectContaining({ status: 200 })]);
      const usage = await t.prisma.usageRecord.findUniqueOrThrow({ where: { jobId: job.id } });
      const encoder = await loadTokenizer(usage.tokenizer as TokenizerName);
      expect(usage.completionTokens, round).toBe(BigInt(encoder.encode(crafted).length));
    }
    await expectLedgerConsistent(t.prisma);
  });

  it('an output with a lone surrogate is stored as UTF-8 stores it (U+FFFD) and takes no other completion of its report down', async () => {
    const jobs = [];
    for (const name of ['lone surrogate', 'its neighbour']) {
      expect((await submitJob(m.buyers[0], m.series, 1_000, name)).status).toBe(201);
      jobs.push(await leaseOne());
    }
    const outputs = [' token \ud800 token', honestOutput(5)];
    const res = await node.post<{ items: { status: number }[] }>(`/v1/nodes/${nodeId}/completions`, {
      completions: jobs.map((job, i) => ({
        jobId: job.id,
        leaseToken: job.leaseToken,
        usage: { prompt_tokens: 8, completion_tokens: 5 },
        ttftMs: 1,
        durationMs: 1_000,
        output: outputs[i],
      })),
    });
    expect(res.body.items, res.text).toEqual([expect.objectContaining({ status: 200 }), expect.objectContaining({ status: 200 })]);
    const stored = await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: jobs[0].id } });
    expect(stored.output).toBe(' token \ufffd token');
    // The trace's hash is of what was stored.
    const usage = await t.prisma.usageRecord.findUniqueOrThrow({ where: { jobId: jobs[0].id } });
    expect(usage.outputSha256).toBe(createHash('sha256').update(stored.output!).digest('hex'));
    expect((await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: jobs[1].id } })).status).toBe('COMPLETED');
    await expectLedgerConsistent(t.prisma);
  });

  it('property: over random completions, honest or not, the seller never gets more than price × counted billable tokens', async () => {
    const buyer = m.buyers[0];
    const o0 = await obligation();
    const completion = fc.record({
      maxTokens: fc.integer({ min: 1, max: 200 }),
      delivered: fc.integer({ min: 0, max: 300 }),
      reportedCompletion: fc.integer({ min: 0, max: 10_000_000 }),
      reportedPrompt: fc.integer({ min: 0, max: 10_000 }),
      durationMs: fc.integer({ min: 0, max: 86_400_000 }),
    });
    const cases = fc.sample(completion, { numRuns: 25, seed: 20261205 });
    const ids: string[] = [];
    let expectedBillable = 0n;
    for (const c of cases) {
      const submitted = await submitJob(buyer, m.series, c.maxTokens, 'ok');
      expect(submitted.status, submitted.text).toBe(201);
      const job = await leaseOne();
      const res = await node.post(`/v1/delivery/jobs/${job.id}/complete`, {
        leaseToken: job.leaseToken,
        usage: { prompt_tokens: c.reportedPrompt, completion_tokens: c.reportedCompletion },
        ttftMs: 0,
        durationMs: c.durationMs,
        output: honestOutput(c.delivered),
      });
      expect(res.status, res.text).toBe(200);
      ids.push(job.id);
      expectedBillable += BigInt(Math.min(c.delivered, c.maxTokens)) + (BigInt(ONE_WORD_PROMPT_TOKENS) * 2_500n) / 10_000n;
    }
    const o = await obligation();
    const delivered = o.deliveredTokens - o0.deliveredTokens;
    expect(delivered).toBe(expectedBillable);
    // Cumulative rounding: what the seller holds for the obligation is floor(notional × delivered / tokens).
    expect(o.releasedFen).toBe((o.notionalFen * o.deliveredTokens) / o.tokens);
    expect(o.releasedFen - o0.releasedFen <= (o.notionalFen * delivered) / o.tokens + 1n).toBe(true);
    await expectLedgerConsistent(t.prisma);
  });
});
