import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, type Spawned } from '../harness/processes.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import {
  closeWindow,
  expire,
  fakeInferenceServer,
  physicalMarket,
  startAgent,
  submitJob,
  waitFor,
  type PhysicalMarket,
} from '../harness/delivery-fixtures.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

const JOBS = 200;

describe('physical delivery end to end: 2 operators × 2 nodes with real agent processes, 3 buyers', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  let inference: Awaited<ReturnType<typeof fakeInferenceServer>>;
  let hooks: http.Server;
  let hookUrl: string;
  const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  const agents: Spawned[] = [];
  const secrets = new Map<string, string>();
  const shortfallJobs: string[] = [];

  beforeAll(async () => {
    assertBuilt();
    t = await startTestApp({ env: { DELIVERY_LEASE_MS: '5000', DELIVERY_REAP_MS: '200', WEBHOOK_ALLOW_HOSTS: '127.0.0.1' } });
    inference = await fakeInferenceServer();
    hooks = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook`;
    m = await physicalMarket(t, {
      operators: 2,
      nodesPerOperator: 2,
      buyers: 3,
      trades: [
        { seller: ['op', 0], buyer: ['buyer', 0], quantity: 2 },
        { seller: ['op', 1], buyer: ['buyer', 1], quantity: 2 },
        { seller: ['op', 0], buyer: ['buyer', 2], quantity: 1 },
        { seller: ['op', 1], buyer: ['buyer', 2], quantity: 1 },
      ],
    });
    const run = await expire(t, m);
    expect(run.price).toBe('400.00'); // no fixing: the last settlement price (here the reference)
    for (const b of m.buyers) {
      const s = await b.client.post<{ secret: string }>(`/v1/members/${b.id}/webhook-secret`, {});
      expect(s.status, s.text).toBe(201);
      secrets.set(b.id, s.body.secret);
    }
    // Operator 0's first node runs against an OpenAI-compatible server; the other three simulate.
    agents.push(startAgent(t, m.operators[0].nodes[0], ['--inference-url', inference.url]));
    for (const node of [m.operators[0].nodes[1], ...m.operators[1].nodes]) agents.push(startAgent(t, node));
  }, 60_000);

  afterAll(async () => {
    for (const a of agents) a.child.kill('SIGKILL');
    await inference?.close();
    hooks?.close();
    await t?.close();
  });

  it(`delivers ${JOBS} jobs, each metered once, paid out of escrow at the obligation price`, async () => {
    const submitted: string[] = [];
    for (let i = 0; i < JOBS; i++) {
      const buyer = m.buyers[i % 3];
      const res = await submitJob(
        buyer,
        m.series,
        20 + (i % 7) * 10,
        `job ${i}: tell me about delivered tokens`,
        i % 10 === 0 ? { callbackUrl: hookUrl } : {},
      );
      expect(res.status, res.text).toBe(201);
      expect(res.body.status).toBe('QUEUED');
      submitted.push(res.body.id);
    }
    await waitFor(
      'all jobs completed',
      async () => (await t.prisma.deliveryJob.count({ where: { id: { in: submitted }, status: 'COMPLETED' } })) === JOBS,
      120_000,
    );

    const usage = await t.prisma.usageRecord.findMany({ where: { jobId: { in: submitted } } });
    expect(usage).toHaveLength(JOBS);
    const jobs = new Map((await t.prisma.deliveryJob.findMany({ where: { id: { in: submitted } } })).map((j) => [j.id, j]));
    const realNode = m.operators[0].nodes[0].id;
    for (const u of usage) {
      const job = jobs.get(u.jobId)!;
      // Billable = output + input × 2,500 / 10,000, rounded down; what each kind of node produced.
      expect(u.billableTokens).toBe(u.completionTokens + (u.promptTokens * 2_500n) / 10_000n);
      expect(u.completionTokens).toBe(BigInt(u.nodeId === realNode ? Math.min(job.maxTokens, 40) : job.maxTokens));
      expect(u.excessTokens).toBe(0n);
    }
    expect(
      usage.some((u) => u.nodeId === realNode),
      agents[0]
        .output()
        .split('\n')
        .filter((l) => !l.includes('heartbeat'))
        .join('\n')
        .slice(0, 3000),
    ).toBe(true);
    expect(inference.requests()).toBe(usage.filter((u) => u.nodeId === realNode).length);
    const fromServer = usage.find((u) => u.nodeId === realNode)!;
    const view = await t.clearing.get<{
      output: string;
      usage: { prompt_tokens: number };
      sla: { met: boolean };
      timings: { ttftMs: number };
    }>(`/v1/delivery/jobs/${fromServer.jobId}`);
    expect(view.body.output).toMatch(/^ market market /);
    expect(view.body.usage.prompt_tokens).toBe(Number(fromServer.promptTokens));

    // Per obligation: delivered = Σ usage; escrow released so far = floor(notional × delivered / tokens).
    for (const o of await t.prisma.deliveryObligation.findMany({ where: { seriesId: m.seriesId } })) {
      const mine = usage.filter((u) => u.obligationId === o.id);
      const delivered = mine.reduce((s, u) => s + u.creditedTokens, 0n);
      expect(o.deliveredTokens).toBe(delivered);
      expect(o.reservedTokens).toBe(0n);
      const released = await t.prisma.transfer.aggregate({
        where: { obligationId: o.id, kind: 'ESCROW_RELEASE' },
        _sum: { amountFen: true },
      });
      expect(released._sum.amountFen ?? 0n).toBe((BigInt(o.contracts) * 40_000n * delivered) / (BigInt(o.contracts) * 1_000_000n));
      expect(o.releasedFen).toBe(released._sum.amountFen ?? 0n);
    }
    await expectLedgerConsistent(t.prisma);
  }, 180_000);

  it('signs webhooks with the buyer secret (HMAC-SHA256) and records each delivery', async () => {
    await waitFor('webhooks', async () => received.length >= JOBS / 10, 30_000);
    expect(received).toHaveLength(JOBS / 10);
    for (const r of received) {
      const payload = JSON.parse(r.body) as { event: string; job: { id: string; status: string } };
      expect(payload.event).toBe('delivery.job.completed');
      const job = await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: payload.job.id } });
      const [, ts, sig] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(r.headers['x-tokenclear-signature']))!;
      expect(sig).toBe(createHmac('sha256', secrets.get(job.buyerId)!).update(`${ts}.${r.body}`).digest('hex'));
    }
    expect(await t.prisma.webhookDelivery.count({ where: { ok: true } })).toBe(JOBS / 10);
  });

  it('closes the window: take-or-pay for unused tokens; a shortfall (operator 1 drained) refunded with the penalty', async () => {
    // Operator 1 drains both nodes; three jobs then called on one of its obligations cannot be served.
    for (const n of m.operators[1].nodes) {
      const res = await m.operators[1].member.client.patch(`/v1/nodes/${n.id}`, { status: 'DRAINING' });
      expect(res.status, res.text).toBe(200);
    }
    const target = await t.prisma.deliveryObligation.findFirstOrThrow({
      where: { seriesId: m.seriesId, sellerId: m.operators[1].member.id },
      orderBy: { seq: 'asc' },
    });
    const buyer = m.buyers.find((b) => b.id === target.buyerId)!;
    for (let i = 0; i < 3; i++) {
      const res = await submitJob(buyer, m.series, 500, `late ${i}`, { obligationId: target.id });
      expect(res.status, res.text).toBe(201);
      shortfallJobs.push(res.body.id);
    }
    await waitFor('dispatch to find no eligible node', async () => {
      const rows = await t.prisma.deliveryJob.findMany({ where: { id: { in: shortfallJobs } } });
      return rows.every((r) => r.status === 'QUEUED' && JSON.stringify(r.decisions).includes('NO_ELIGIBLE_NODE'));
    });
    const before = new Map((await t.prisma.deliveryObligation.findMany({ where: { seriesId: m.seriesId } })).map((o) => [o.id, o]));
    const cashBefore = await cashByMember(t);

    const run = await closeWindow(t, m);
    expect(run.status).toBe('COMPLETED');

    for (const id of shortfallJobs) {
      expect(await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id } })).toMatchObject({
        status: 'FAILED',
        failureCode: 'WINDOW_CLOSED',
        operatorFault: true,
      });
    }
    const expectedCash = new Map(cashBefore);
    const add = (id: string, fen: bigint) => expectedCash.set(id, (expectedCash.get(id) ?? 0n) + fen);
    for (const o of await t.prisma.deliveryObligation.findMany({ where: { seriesId: m.seriesId } })) {
      const b = before.get(o.id)!;
      const notional = BigInt(b.contracts) * 40_000n;
      const shortfall = o.id === target.id ? 1_500n : 0n;
      const unused = b.tokens - b.deliveredTokens - shortfall;
      // By the formula: the seller is paid for delivered + unused tokens (cumulative, rounded down),
      // the buyer gets the rest back, and 20 % of that refund (rounded up) from the seller.
      const paidTotal = (notional * (b.deliveredTokens + unused)) / b.tokens;
      const refund = notional - paidTotal;
      const penalty = (refund * 2_000n + 9_999n) / 10_000n;
      expect(o).toMatchObject({
        status: 'CLOSED',
        shortfallTokens: shortfall,
        unusedTokens: unused,
        refundedFen: refund,
        penaltyFen: penalty,
        releasedFen: paidTotal,
      });
      if (o.id === target.id) expect(refund).toBeGreaterThan(0n);
      else expect(refund).toBe(0n);
      add(o.sellerId, paidTotal - b.releasedFen - penalty);
      add(o.buyerId, refund + penalty);
    }
    expect(await cashByMember(t)).toEqual(expectedCash);
    for (const b of m.buyers) expect((await t.clearing.get(`/v1/members/${b.id}/balances`)).body).toMatchObject({ escrow: '0.00' });
    expect((await t.clearing.get(`/v1/series/${m.series}`)).body).toMatchObject({ status: 'SETTLED' });
    const again = await t.clearing.post<{ status: string; checksum: string }>('/v1/settlement/runs', {
      type: 'DELIVERY_CLOSE',
      series: m.series,
    });
    expect(again.body).toMatchObject({ status: 'COMPLETED', checksum: run.checksum });
    await expectLedgerConsistent(t.prisma);
  }, 60_000);

  it('agents stop on SIGTERM: no more leases, exit 0', async () => {
    for (const a of agents) a.child.kill('SIGTERM');
    const codes = await Promise.all(agents.map((a) => a.exited));
    expect(codes).toEqual(agents.map(() => 0));
    expect(agents[1].output()).toContain('agent stopped');
  });
});

async function cashByMember(t: TestApp): Promise<Map<string, bigint>> {
  const rows = await t.prisma.ledgerAccount.findMany({ where: { type: 'CASH', memberId: { not: null } } });
  return new Map(rows.map((r) => [r.memberId!, r.balanceFen]));
}
