import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, type Spawned } from '../harness/processes.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { closeWindow, expire, physicalMarket, startAgent, submitJob, waitFor, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

/**
 * An OpenAI-compatible server (as vLLM serves it) that refuses one prompt with 400 (the request's
 * fault), fails another with 500 (the operator's), and streams 40 tokens for the rest.
 */
async function pickyInferenceServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as { max_tokens: number; messages: { content: string }[] };
      const prompt = body.messages.map((m) => m.content).join(' ');
      if (prompt.includes('reject me'))
        return void res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"prompt too long for context"}}');
      if (prompt.includes('break me')) return void res.writeHead(500).end('CUDA out of memory');
      const n = Math.min(body.max_tokens, 40);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < n; i++) res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: ' market' } }] })}\n\n`);
      res.write(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 8, completion_tokens: n, total_tokens: 8 + n } })}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

interface ObligationView {
  id: string;
  status: string;
  tokens: number;
  deliveredTokens: number;
  shortfallTokens: number;
  unusedTokens: number;
  penalty: string;
}

describe('fault attribution: a failure the request caused is the buyer’s, an operator failure is shortfall', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  let inference: Awaited<ReturnType<typeof pickyInferenceServer>>;
  const agents: Spawned[] = [];

  beforeAll(async () => {
    assertBuilt();
    t = await startTestApp({ env: { DELIVERY_MAX_ATTEMPTS: '3', DELIVERY_REAP_MS: '200', LOG_LEVEL: 'error' } });
    inference = await pickyInferenceServer();
    m = await physicalMarket(t, {
      operators: 1,
      nodesPerOperator: 2,
      buyers: 1,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
    });
    await expire(t, m);
    for (const node of m.operators[0].nodes) agents.push(startAgent(t, node, ['--inference-url', inference.url]));
  }, 60_000);

  afterAll(async () => {
    for (const a of agents) a.child.kill('SIGKILL');
    await inference?.close();
    await t?.close();
  });

  it('a 400 for the prompt: re-run once on the seller’s other node, then FAILED REQUEST_REJECTED, no penalty; a 500 still counts', async () => {
    const buyer = m.buyers[0];
    const ids: Record<'ok' | 'rejected' | 'broken', string> = {
      ok: (await submitJob(buyer, m.series, 50, 'tell me a story')).body.id,
      rejected: (await submitJob(buyer, m.series, 5_000, 'reject me please')).body.id,
      broken: (await submitJob(buyer, m.series, 2_000, 'break me please')).body.id,
    };
    await waitFor(
      'all three jobs finished',
      async () =>
        (await t.prisma.deliveryJob.count({ where: { id: { in: Object.values(ids) }, status: { in: ['COMPLETED', 'FAILED'] } } })) === 3,
      60_000,
    );
    const job = async (id: string) => t.prisma.deliveryJob.findUniqueOrThrow({ where: { id } });
    expect((await job(ids.ok)).status).toBe('COMPLETED');

    const rejected = await job(ids.rejected);
    expect(rejected).toMatchObject({ status: 'FAILED', failureCode: 'REQUEST_REJECTED', operatorFault: false });
    // The guard: the node's claim was re-run on the seller's other node before it was accepted.
    const claims = (rejected.decisions as { event: string; cause?: string; nodeId: string }[]).filter((d) => d.event === 'NODE_FAILED');
    expect(claims.map((c) => c.cause)).toEqual(['REQUEST', 'REQUEST']);
    expect(new Set(claims.map((c) => c.nodeId)).size).toBe(2);
    const view = await buyer.client.get<{ failure: { code: string; operatorFault: boolean } }>(`/v1/delivery/jobs/${ids.rejected}`);
    expect(view.body.failure).toMatchObject({ code: 'REQUEST_REJECTED', operatorFault: false });

    const broken = await job(ids.broken);
    expect(broken).toMatchObject({ status: 'FAILED', failureCode: 'OPERATOR_FAILURE', operatorFault: true });
    expect(broken.failureReason).toMatch(/^HTTP: inference server answered 500/);

    // Both reservations went back to the obligation.
    const before = await t.prisma.deliveryObligation.findFirstOrThrow({ where: { seriesId: m.seriesId } });
    expect(before.reservedTokens).toBe(0n);

    const run = await closeWindow(t, m);
    expect(run.status).toBe('COMPLETED');
    const [o] = (await buyer.client.get<{ items: ObligationView[] }>('/v1/obligations')).body.items;
    // Shortfall is the operator's failed job alone; the rejected job's tokens are unused (take-or-pay).
    expect(o.status).toBe('CLOSED');
    expect(o.shortfallTokens).toBe(Number(broken.reservedTokens));
    expect(o.unusedTokens).toBe(1_000_000 - o.deliveredTokens - o.shortfallTokens);
    expect(o.unusedTokens).toBeGreaterThanOrEqual(Number(rejected.reservedTokens));
    // Penalty 20 % of the shortfall's value (400.00 per 1M tokens), rounded up against the seller.
    const refundFen = (40_000n * broken.reservedTokens) / 1_000_000n;
    expect(o.penalty).toBe((Number((refundFen * 2_000n + 9_999n) / 10_000n) / 100).toFixed(2));
    await expectLedgerConsistent(t.prisma);
  }, 90_000);
});
