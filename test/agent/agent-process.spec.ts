import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT, expire, physicalMarket, submitJob, waitFor, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import { assertBuilt, childEnv, spawnNode, type Spawned } from '../harness/processes.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';
import { apiProxy, completionReports } from './api-proxy.js';

/**
 * What the inference server sees, chosen by the prompt: STALL never answers (the agent must give
 * up), NO-USAGE streams without a usage chunk, HUGE answers ~600 k newlines (1.2 MB once in JSON:
 * over the API's former 1 MB body limit, within today's limit derived from the DTO); anything else streams three words and usage.
 */
async function inferenceServer() {
  const requests: { url: string; authorization?: string; body: Record<string, unknown>; prompt: string; abortedAfterMs?: number }[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as { messages: { content: string }[] };
      const seen: (typeof requests)[number] = {
        url: req.url!,
        authorization: req.headers.authorization,
        body,
        prompt: body.messages.at(-1)!.content,
      };
      requests.push(seen);
      const arrived = Date.now();
      res.on('close', () => {
        if (!res.writableEnded) seen.abortedAfterMs = Date.now() - arrived;
      });
      if (seen.prompt.startsWith('STALL')) return;
      const chunk = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\n\n`);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (seen.prompt.startsWith('HUGE')) {
        for (let i = 0; i < 60; i++) chunk({ choices: [{ delta: { content: '\n'.repeat(10_000) } }] });
        chunk({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 600 } });
      } else {
        for (const w of [' one', ' two', ' three']) chunk({ choices: [{ delta: { content: w } }] });
        if (!seen.prompt.startsWith('NO-USAGE')) chunk({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 3 } });
      }
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('node agent processes against the real API (issue 20, item 6)', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  let api: Awaited<ReturnType<typeof apiProxy>>;
  let inference: Awaited<ReturnType<typeof inferenceServer>>;
  const agents: Spawned[] = [];
  const keyDir = mkdtempSync(join(tmpdir(), 'agent-key-'));

  /** Operator i's only node, and its obligation to the buyer: jobs sent there run on that node. */
  const node = (i: number) => m.operators[i].nodes[0];
  const obligationOf = async (i: number) =>
    (await t.prisma.deliveryObligation.findFirstOrThrow({ where: { seriesId: m.seriesId, sellerId: m.operators[i].member.id } })).id;
  const submit = async (op: number, maxTokens: number, content: string) => {
    const res = await submitJob(m.buyers[0], m.series, maxTokens, content, { obligationId: await obligationOf(op) });
    expect(res.status, res.text).toBe(201);
    return res.body.id;
  };
  const running = new Map<number, Spawned>();
  /** One agent per node: a node's earlier agent is stopped (SIGTERM, reports what it holds) first. */
  const startAgent = async (op: number, args: string[], env: NodeJS.ProcessEnv = {}) => {
    const previous = running.get(op);
    if (previous) {
      previous.child.kill('SIGTERM');
      await previous.exited;
    }
    const a = spawnNode(
      [AGENT, '--api', api.url, '--node', node(op).id, '--heartbeat-ms', '200', '--lease-wait', '1', ...args],
      childEnv({ TOKENCLEAR_NODE_TOKEN: node(op).nodeToken, ...env }),
    );
    agents.push(a);
    running.set(op, a);
    return a;
  };
  const jobs = (ids: string[]) => t.prisma.deliveryJob.findMany({ where: { id: { in: ids } } });
  const settled = (ids: string[], timeoutMs = 60_000) =>
    waitFor(
      `${ids.length} jobs settled`,
      async () => {
        const rows = await jobs(ids);
        return rows.every((j) => j.status === 'COMPLETED' || j.status === 'FAILED') && rows;
      },
      timeoutMs,
    );
  /** Completion items the API answered 200 to, for a node: waits for `n` (the proxy logs an exchange just after the API's commit). */
  const acceptedReports = (op: number, n: number) =>
    waitFor(`${n} accepted completions`, async () => {
      const reports = completionReports(api.exchanges, node(op).id);
      return reports.flatMap((r) => r.items.filter((it) => it.status === 200)).length >= n && reports;
    });
  const logOf = (a: Spawned) =>
    a
      .output()
      .split('\n')
      .filter((l) => !l.includes('"heartbeat"'))
      .join('\n')
      .slice(-4_000);

  beforeAll(async () => {
    assertBuilt();
    // One attempt: a job the node gives up fails at once, with the node's reason on it.
    t = await startTestApp({ env: { DELIVERY_MAX_ATTEMPTS: '1', DELIVERY_MAX_TOKENS: '100000' } });
    m = await physicalMarket(t, {
      operators: 7,
      nodesPerOperator: 1,
      buyers: 1,
      trades: [0, 1, 2, 3, 4, 5, 6].map((op) => ({
        seller: ['op', op] as ['op', number],
        buyer: ['buyer', 0] as ['buyer', number],
        quantity: 1,
      })),
    });
    await expire(t, m);
    api = await apiProxy(t.baseUrl);
    inference = await inferenceServer();
  }, 120_000);

  afterAll(async () => {
    for (const a of agents) a.child.kill('SIGKILL');
    await inference?.close();
    await api?.close();
    await t?.close();
  });

  it('keeps a gateway base path, sends the key from TOKENCLEAR_INFERENCE_KEY, and flags usage the server did not send', async () => {
    const agent = await startAgent(0, ['--inference-url', `${inference.url}/openai/`], { TOKENCLEAR_INFERENCE_KEY: 'sk-from-env' });
    const id = await submit(0, 16, 'NO-USAGE say hi');
    const [job] = await settled([id]);
    expect(job.status, logOf(agent)).toBe('COMPLETED');
    const req = inference.requests.find((r) => r.prompt === 'NO-USAGE say hi')!;
    expect(req.url).toBe('/openai/v1/chat/completions');
    expect(req.authorization).toBe('Bearer sk-from-env');
    expect(agent.output()).not.toContain('sk-from-env');
    // The report says the figures are the agent's (chunks counted, prompt unknown), and the API took it.
    const sent = (await acceptedReports(0, 1)).flatMap((r) => r.completions.map((c) => ({ ...c, status: r.status })));
    expect(sent).toEqual([
      expect.objectContaining({ jobId: id, usage: { prompt_tokens: 0, completion_tokens: 3 }, usageEstimated: true, status: 200 }),
    ]);
  });

  it('does not double a /v1 base, sends the key from --inference-key-file, and the lease seed with temperature 0', async () => {
    const keyFile = join(keyDir, 'key');
    writeFileSync(keyFile, '  sk-from-file\n');
    api.leaseExtras.set(node(1).id, { seed: 1234 });
    const agent = await startAgent(1, ['--inference-url', `${inference.url}/v1`, '--inference-key-file', keyFile]);
    const id = await submit(1, 16, 'seeded: say hi');
    const [job] = await settled([id]);
    expect(job.status, logOf(agent)).toBe('COMPLETED');
    const req = inference.requests.find((r) => r.prompt === 'seeded: say hi')!;
    expect(req.url).toBe('/v1/chat/completions');
    expect(req.authorization).toBe('Bearer sk-from-file');
    expect(req.body).toMatchObject({ seed: 1234, temperature: 0 });
    // Usage the server reported is not flagged.
    const [report] = await acceptedReports(1, 1);
    expect(report.completions[0]).not.toHaveProperty('usageEstimated');
  });

  it("gives a job up after the TTFT allowance + maxTokens at the product's rate floor (×2), reported as a retryable TIMEOUT", async () => {
    api.leaseExtras.set(node(2).id, { minTokensPerSecond: 20 });
    const agent = await startAgent(2, ['--inference-url', inference.url, '--ttft-allowance-ms', '300', '--concurrency', '2']);
    // 10 tokens at 20/s ×2 = 1 s (+0.3 s); 50 tokens = 5 s (+0.3 s). The default would be 120 s.
    const short = await submit(2, 10, 'STALL short');
    const long = await submit(2, 50, 'STALL long');
    const rows = await settled([short, long], 30_000);
    const byId = new Map(rows.map((j) => [j.id, j]));
    for (const [id, prompt, limit] of [
      [short, 'STALL short', 1_300],
      [long, 'STALL long', 5_300],
    ] as const) {
      const job = byId.get(id)!;
      expect(job.status, logOf(agent)).toBe('FAILED');
      expect(job.failureReason).toBe(`TIMEOUT: no complete answer within ${limit} ms`);
      expect(job.decisions).toEqual(expect.arrayContaining([expect.objectContaining({ event: 'NODE_FAILED', retryable: true })]));
      // The inference server saw the call dropped when the limit ran out.
      const aborted = inference.requests.find((r) => r.prompt === prompt)!.abortedAfterMs!;
      expect(aborted).toBeGreaterThanOrEqual(limit - 200);
      expect(aborted).toBeLessThan(limit + 2_000);
    }
  });

  it('--job-timeout-ms overrides the limit the rate floor would give', async () => {
    api.leaseExtras.set(node(3).id, { minTokensPerSecond: 20 });
    const agent = await startAgent(3, ['--inference-url', inference.url, '--job-timeout-ms', '700']);
    const id = await submit(3, 50, 'STALL override');
    const [job] = await settled([id], 30_000);
    expect(job.status, logOf(agent)).toBe('FAILED');
    expect(job.failureReason).toBe('TIMEOUT: no complete answer within 700 ms');
    expect(inference.requests.find((r) => r.prompt === 'STALL override')!.abortedAfterMs).toBeLessThan(2_700);
  });

  /** n simulated jobs of `maxTokens` words (~6.5 bytes each in JSON) queued on operator op's node before its agent starts. */
  const queuedBigJobs = async (op: number, n: number, maxTokens: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(await submit(op, maxTokens, `big ${op}.${i}`));
    await waitFor('all dispatched', async () => (await jobs(ids)).every((j) => j.status === 'DISPATCHED'));
    return ids;
  };
  const expectEachDeliveredOnce = async (op: number, ids: string[]) => {
    const rows = await settled(ids);
    expect(rows.map((j) => j.status)).toEqual(ids.map(() => 'COMPLETED'));
    expect(await t.prisma.usageRecord.count({ where: { jobId: { in: ids } } })).toBe(ids.length);
    // Each completion accepted by the API exactly once, over all the reports.
    const accepted = (await acceptedReports(op, ids.length)).flatMap((r) =>
      r.items.filter((it) => it.status === 200).map((it) => it.jobId),
    );
    expect(accepted.toSorted()).toEqual(ids.toSorted());
  };

  it('a report over the API limit is split on 413 until it fits: every completion arrives exactly once', async () => {
    // ~390 k characters a completion, ten finishing together: over the report's 2 M character budget, a 413.
    const ids = await queuedBigJobs(4, 10, 60_000);
    const agent = await startAgent(4, ['--simulate', '--rate', '0', '--concurrency', '10', '--report-max-bytes', '50000000']);
    await expectEachDeliveredOnce(4, ids);
    const reports = completionReports(api.exchanges, node(4).id);
    expect(
      reports.filter((r) => r.status === 413).length,
      reports.map((r) => `${r.status} ${r.completions.length} ${r.bytes}`).join('\n'),
    ).toBeGreaterThan(0);
    expect(agent.output()).toContain('completion report too large for the API (413): sending it in halves');
  });

  it('by default reports stay under 512 KiB, so the API never answers 413', async () => {
    const ids = await queuedBigJobs(5, 10, 60_000);
    await startAgent(5, ['--simulate', '--rate', '0', '--concurrency', '10']);
    await expectEachDeliveredOnce(5, ids);
    const reports = completionReports(api.exchanges, node(5).id);
    expect(reports.every((r) => r.status === 200 && r.bytes <= 512 * 1024)).toBe(true);
    expect(reports.length).toBeGreaterThan(1);
  });

  it('a 600 k-character answer (1.2 MB in JSON, over the former 1 MB limit) is delivered: the limit fits the largest valid report', async () => {
    await startAgent(0, ['--inference-url', inference.url, '--concurrency', '4']);
    const huge = await submit(0, 1_000, 'HUGE answer');
    const fine = [await submit(0, 16, 'fine 1'), await submit(0, 16, 'fine 2')];
    const rows = new Map((await settled([huge, ...fine])).map((j) => [j.id, j]));
    for (const id of [huge, ...fine]) {
      const j = rows.get(id)!;
      expect(j.status, `${j.failureCode}: ${j.failureReason}\n${logOf(running.get(0)!)}`).toBe('COMPLETED');
    }
  });

  it('leases the next jobs while a report is on its way, holding at most twice its concurrency unreported', async () => {
    const ids = await queuedBigJobs(6, 6, 16);
    const completions = `/v1/nodes/${node(6).id}/completions`;
    const release = api.hold(completions);
    const leasedJobs = () =>
      api.exchanges
        .filter((e) => e.path === `/v1/nodes/${node(6).id}/lease` && e.status === 200)
        .reduce((n, e) => n + (JSON.parse(e.responseBody) as { jobs: unknown[] }).jobs.length, 0);
    const agent = await startAgent(6, ['--simulate', '--rate', '0', '--concurrency', '2']);
    // The first two jobs' report waits at the proxy; the engine is free, so two more are leased
    // meanwhile (a report's round trip no longer idles it) — and then no more: four in hand.
    await waitFor('a second lease while the first report is held', async () => leasedJobs() >= 4, 15_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(leasedJobs(), logOf(agent)).toBe(4);
    expect(completionReports(api.exchanges, node(6).id)).toHaveLength(0);
    release();
    await expectEachDeliveredOnce(6, ids);
  });
});
