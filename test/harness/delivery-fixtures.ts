import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { Clock } from '../../src/platform/time/clock.js';
import { createDataCenter, createNode, type TestNode } from './capacity-factories.js';
import { createMember, type TestMember } from './factories.js';
import { createProduct, fund, order } from './market-factories.js';
import { ROOT, childEnv, spawnNode, type Spawned } from './processes.js';
import { waitForRun, type RunView } from './settlement-helpers.js';
import { startTestApp, type TestApp } from './test-app.js';

export const AGENT = `${ROOT}/dist/agent/main.js`;
const MINUTE = 60_000;
const HOUR = 3_600_000;

export interface PhysicalMarket {
  series: string;
  seriesId: string;
  operators: { member: TestMember; nodes: TestNode[] }[];
  buyers: TestMember[];
  traders: TestMember[];
  lastTradingAt: Date;
  deliveryStart: Date;
  deliveryEnd: Date;
}

export interface MarketSpec {
  operators: number;
  nodesPerOperator: number;
  buyers: number;
  traders?: number;
  /** Trades at `price`: seller and buyer named by role and index, e.g. ['op', 0] sells to ['buyer', 1]. */
  trades: { seller: [Role, number]; buyer: [Role, number]; quantity: number }[];
  price?: string;
  product?: Record<string, unknown>;
  /** Deposit per member. */
  cash?: string;
  /** Per buyer deposit override (index → amount). */
  buyerCash?: Record<number, string>;
  regions?: string[];
  /** Delivery starts this long after last trading (default: at once). */
  deliveryDelayMs?: number;
}

type Role = 'op' | 'buyer' | 'trader';

/**
 * A PHYSICAL series traded now: last trading in 1 hour (service clock), delivery for 2 hours
 * after it. Operators have registered nodes (so their shorts are capacity-backed).
 */
export async function physicalMarket(t: TestApp, spec: MarketSpec): Promise<PhysicalMarket> {
  const clock = t.app.get(Clock);
  const now = clock.now().getTime();
  const regions = spec.regions ?? ['cn-east-1', 'cn-north-1'];
  const cash = spec.cash ?? '100000.00';
  const operators: PhysicalMarket['operators'] = [];
  for (let i = 0; i < spec.operators; i++) {
    const member = await createMember(t, 'OPERATOR');
    await fund(t, member, cash);
    const nodes: TestNode[] = [];
    for (let n = 0; n < spec.nodesPerOperator; n++) {
      const node = await createNode(member, await createDataCenter(member, regions[n % regions.length]), [
        { modelClass: 'llm-70b-instruct', tokensPerSecond: 1000 },
      ]);
      // One heartbeat: the node is registered and ONLINE, so the operator's shorts are backed.
      const hb = await t.client(node.nodeToken).post(`/v1/nodes/${node.id}/heartbeat`, {});
      expect(hb.status, hb.text).toBe(200);
      nodes.push(node);
    }
    operators.push({ member, nodes });
  }
  const buyers: TestMember[] = [];
  for (let i = 0; i < spec.buyers; i++) {
    const b = await createMember(t, 'BUYER');
    await fund(t, b, spec.buyerCash?.[i] ?? cash);
    buyers.push(b);
  }
  const traders: TestMember[] = [];
  for (let i = 0; i < (spec.traders ?? 0); i++) {
    const tr = await createMember(t, 'TRADER');
    await fund(t, tr, cash);
    traders.push(tr);
  }
  const product = await createProduct(t, {
    settlementType: 'PHYSICAL',
    contractSizeTokens: 1_000_000,
    feePerContractFen: 0,
    penaltyBp: 2_000,
    maxTtftMs: 2_000,
    // The guaranteed rate also bounds the largest job the 2-hour window takes (SPEC §6.1:
    // DELIVERY_WINDOW_TOO_SHORT): 100 tokens/s lets a 400,000-token job in.
    minTokensPerSecond: 100,
    inputTokenWeightBp: 2_500,
    regions,
    ...spec.product,
  });
  const lastTradingAt = new Date(now + HOUR);
  const deliveryEnd = new Date(now + 3 * HOUR);
  const series = `${product}-D`;
  const created = await t.clearing.post<{ id: string }>('/v1/series', {
    productCode: product,
    code: series,
    lastTradingAt: lastTradingAt.toISOString(),
    deliveryStart: new Date(lastTradingAt.getTime() + (spec.deliveryDelayMs ?? 0)).toISOString(),
    deliveryEnd: deliveryEnd.toISOString(),
    referencePrice: spec.price ?? '400.00',
  });
  expect(created.status, created.text).toBe(201);
  const who = ([role, i]: [Role, number]) => (role === 'op' ? operators[i].member : role === 'buyer' ? buyers[i] : traders[i]);
  for (const tr of spec.trades) {
    const sell = await order(who(tr.seller), series, 'SELL', spec.price ?? '400.00', tr.quantity);
    expect(sell.status, sell.text).toBe(201);
    const buy = await order(who(tr.buyer), series, 'BUY', spec.price ?? '400.00', tr.quantity);
    expect(buy.status, buy.text).toBe(201);
    expect(buy.body.filledQuantity).toBe(tr.quantity);
  }
  const seriesId = (await t.prisma.series.findUniqueOrThrow({ where: { code: series } })).id;
  return {
    series,
    seriesId,
    operators,
    buyers,
    traders,
    lastTradingAt,
    deliveryStart: new Date(lastTradingAt.getTime() + (spec.deliveryDelayMs ?? 0)),
    deliveryEnd,
  };
}

/** Moves the service clock past last trading and runs the EXPIRY (allocation) over HTTP. */
export async function expire(t: TestApp, m: PhysicalMarket): Promise<RunView> {
  t.app.get(Clock).set(new Date(m.lastTradingAt.getTime() + MINUTE));
  const run = await t.clearing.post<{ id: string }>('/v1/settlement/runs', { type: 'EXPIRY', series: m.series });
  expect(run.status, run.text).toBe(201);
  return waitForRun(t, run.body.id);
}

/** Moves the service clock past the delivery window and runs DELIVERY_CLOSE. */
export async function closeWindow(t: TestApp, m: PhysicalMarket): Promise<RunView> {
  t.app.get(Clock).set(new Date(m.deliveryEnd.getTime() + MINUTE));
  const run = await t.clearing.post<{ id: string }>('/v1/settlement/runs', { type: 'DELIVERY_CLOSE', series: m.series });
  expect(run.status, run.text).toBe(201);
  return waitForRun(t, run.body.id);
}

export function startAgent(t: TestApp, node: TestNode, args: string[] = ['--simulate', '--rate', '0']): Spawned {
  return spawnNode(
    [AGENT, '--api', t.baseUrl, '--node', node.id, '--heartbeat-ms', '200', '--lease-wait', '2', ...args],
    childEnv({ TOKENCLEAR_NODE_TOKEN: node.nodeToken }),
  );
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Jobs delivered by hand through the node protocol (submit, lease on operator 0's first node,
 * complete honestly: the output is exactly `tokens` counted tokens, the report what is counted):
 * usage records and escrow releases exist afterwards. One job per entry, in order.
 */
export async function deliverByHand(t: TestApp, m: PhysicalMarket, jobs: { tokens: number; content: string }[]): Promise<void> {
  const nodeOf = m.operators[0].nodes[0];
  const node = t.client(nodeOf.nodeToken);
  for (const { tokens, content } of jobs) {
    const submitted = await submitJob(m.buyers[0], m.series, tokens, content);
    expect(submitted.status, submitted.text).toBe(201);
    const lease = await node.post<{ jobs: { id: string; leaseToken: string }[] }>(`/v1/nodes/${nodeOf.id}/lease`, { waitSeconds: 5 });
    const [job] = lease.body.jobs;
    const done = await node.post(`/v1/delivery/jobs/${job.id}/complete`, {
      leaseToken: job.leaseToken,
      usage: { prompt_tokens: ONE_WORD_PROMPT_TOKENS, completion_tokens: tokens },
      ttftMs: 10,
      durationMs: 250,
      output: honestOutput(tokens),
    });
    expect(done.status, done.text).toBe(200);
  }
}

/** A job as a lease request hands it to the node. */
export interface LeasedJob {
  id: string;
  leaseToken: string;
  leaseExpiresAt: string;
  messages: { content: string }[];
  maxTokens: number;
}

/**
 * An honest output of exactly `tokens` tokens by every pinned tokenizer (qwen3, llama3,
 * deepseek-v3 each count " market" as one token): the clearing house bills what it counts.
 */
export function honestOutput(tokens = 100): string {
  return ' market'.repeat(tokens);
}

/**
 * The prompt tokens the clearing house counts for a one-message job whose content is one short
 * word ('first', 'ok', 'a', …): 1 (role) + 1 (content) + 3 (framing) + 3 (reply primer) = 8.
 */
export const ONE_WORD_PROMPT_TOKENS = 8;

/**
 * One item of POST /v1/nodes/:id/completions for a leased job of a one-word prompt, honest: 100
 * completion tokens, reported as counted (102 billable at 25 %: 100 + ⌊8 × 25 %⌋).
 */
export function completionOf(j: Pick<LeasedJob, 'id' | 'leaseToken'>, leaseToken = j.leaseToken, output = honestOutput(100)) {
  return {
    jobId: j.id,
    leaseToken,
    usage: { prompt_tokens: ONE_WORD_PROMPT_TOKENS, completion_tokens: 100 },
    ttftMs: 100,
    durationMs: 1_000,
    output,
  };
}

export interface JobView {
  id: string;
  status: string;
  nodeId: string | null;
  attempts: number;
  usage: { prompt_tokens: number; completion_tokens: number; billableTokens: number } | null;
  failure: { code: string } | null;
  output: string | null;
  obligationId: string;
}

export function submitJob(buyer: TestMember, series: string, maxTokens: number, content: string, extra: Record<string, unknown> = {}) {
  return buyer.client.post<JobView>('/v1/delivery/jobs', {
    series,
    modelClass: 'llm-70b-instruct',
    messages: [{ role: 'user', content }],
    maxTokens,
    ...extra,
  });
}

/**
 * A local OpenAI-compatible server (as vLLM or llama.cpp serve it): streams the answer word by
 * token by token and reports usage in the last chunk. Its prompt count is its own (characters / 4,
 * rounded up), as a real server's chat template differs from the clearing house's rule.
 */
export async function fakeInferenceServer(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      count++;
      const body = JSON.parse(raw) as { max_tokens: number; messages: { content: string }[] };
      const n = Math.min(body.max_tokens, 40);
      const prompt = Math.ceil(body.messages.reduce((s, m) => s + m.content.length, 0) / 4);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // One token a chunk, as a real server streams (" market" is one token in every pinned tokenizer).
      for (let i = 0; i < n; i++) res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: ' market' } }] })}\n\n`);
      res.write(
        `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: prompt, completion_tokens: n, total_tokens: prompt + n } })}\n\n`,
      );
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests: () => count, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * A test app with `env` and a physical market already expired into delivery (obligations open):
 * the starting point of every delivery spec that runs agents.
 */
export async function expiredMarket(env: NodeJS.ProcessEnv, spec: MarketSpec): Promise<{ t: TestApp; m: PhysicalMarket }> {
  const t = await startTestApp({ env });
  const m = await physicalMarket(t, spec);
  await expire(t, m);
  return { t, m };
}
