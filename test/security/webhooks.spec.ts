import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, type TestMember } from '../harness/factories.js';
import {
  completionOf,
  expire,
  physicalMarket,
  submitJob,
  waitFor,
  type LeasedJob,
  type PhysicalMarket,
} from '../harness/delivery-fixtures.js';
import type { ApiClient } from '../harness/http.js';
import { wherePlaintext } from '../harness/secrets.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

interface Attempt {
  attempt: number;
  outcome: 'DELIVERED' | 'FAILED' | 'REFUSED';
  httpStatus: number | null;
  at: string;
}

/**
 * API7 (SSRF): webhooks cannot reach inside (SPEC §6.2). `vm`, `runsc` and `localhost` resolve to
 * 127.0.0.1 here (/etc/hosts); only `vm` is allow-listed, standing in for a buyer's public receiver.
 */
describe('webhook egress: checked at submit and at send, every attempt recorded, retried with backoff', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  let buyer: TestMember;
  let node: ApiClient;
  let nodeId: string;
  let receiver: http.Server;
  let port = 0;
  const hits: string[] = [];
  let failFirst = 0;

  beforeAll(async () => {
    t = await startTestApp({ env: { WEBHOOK_ALLOW_HOSTS: 'vm', WEBHOOK_RETRY_DELAY_MS: '300', WEBHOOK_TIMEOUT_MS: '2000' } });
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        hits.push(body);
        if (failFirst > 0) {
          failFirst--;
          res.writeHead(503).end('down');
        } else res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '0.0.0.0', r));
    port = (receiver.address() as AddressInfo).port;
    m = await physicalMarket(t, {
      operators: 1,
      nodesPerOperator: 1,
      buyers: 2,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
    });
    await expire(t, m);
    buyer = m.buyers[0];
    nodeId = m.operators[0].nodes[0].id;
    node = t.client(m.operators[0].nodes[0].nodeToken);
  });
  afterAll(async () => {
    await t.close();
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  /** Leases the job and completes it: its webhook goes out. */
  async function complete(jobId: string): Promise<void> {
    const leased = await waitFor('the job to be leased', async () => {
      const res = await node.post<{ jobs: LeasedJob[] }>(`/v1/nodes/${nodeId}/lease`, { maxJobs: 10, waitSeconds: 1 });
      return res.body.jobs.find((j) => j.id === jobId);
    });
    const done = await node.post(`/v1/nodes/${nodeId}/completions`, { completions: [completionOf(leased)] });
    expect(done.status, done.text).toBe(200);
  }
  const attempts = async (jobId: string, who = buyer.client) =>
    (await who.get<{ items: Attempt[]; nextCursor: string | null }>(`/v1/delivery/jobs/${jobId}/webhook-deliveries?limit=50`)).body.items;

  it.each([
    `http://127.0.0.1:PORT/hook`,
    `https://127.0.0.1:PORT/hook`,
    `https://localhost:PORT/hook`,
    `https://169.254.169.254/latest/meta-data`,
    `https://[::1]:PORT/hook`,
    `https://0x7f000001:PORT/hook`,
    `http://hooks.example.com/hook`,
    `https://user:pw@hooks.example.com/hook`,
  ])('refuses callbackUrl %s at submit with 400 CALLBACK_URL_NOT_ALLOWED and stores no job', async (raw) => {
    const before = await t.prisma.deliveryJob.count();
    const res = await submitJob(buyer, m.series, 10, 'x', { callbackUrl: raw.replace('PORT', String(port)) });
    expectProblem(res, 400, 'CALLBACK_URL_NOT_ALLOWED');
    expect(await t.prisma.deliveryJob.count()).toBe(before);
  });

  it('refuses it per item in the batch endpoint, the other items accepted', async () => {
    const job = (callbackUrl?: string) => ({
      series: m.series,
      modelClass: 'llm-70b-instruct',
      messages: [{ role: 'user', content: 'x' }],
      maxTokens: 10,
      ...(callbackUrl ? { callbackUrl } : {}),
    });
    const res = await buyer.client.post<{ items: { status: number; problem?: { code: string } }[] }>('/v1/delivery/jobs/batch', {
      jobs: [job(), job(`http://127.0.0.1:${port}/hook`), job(`http://vm:${port}/hook`)],
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.map((i) => i.status)).toEqual([201, 400, 201]);
    expect(res.body.items[1].problem?.code).toBe('CALLBACK_URL_NOT_ALLOWED');
  });

  it('a name that resolves to 127.0.0.1 at send time is refused: the receiver sees no request, the attempt is recorded as refused and not retried', async () => {
    const before = hits.length;
    const sub = await submitJob(buyer, m.series, 10, 'rebind', { callbackUrl: `https://runsc:${port}/hook` });
    expect(sub.status, sub.text).toBe(201);
    await complete(sub.body.id);
    const [first] = await waitFor('the refused attempt', async () => {
      const a = await attempts(sub.body.id);
      return a.length > 0 && a;
    });
    expect(first).toMatchObject({ attempt: 1, outcome: 'REFUSED', httpStatus: null });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await attempts(sub.body.id)).toHaveLength(1);
    expect(hits.length).toBe(before);
  });

  it('retries with exponential backoff against a receiver that fails twice, then succeeds; each attempt listed', async () => {
    failFirst = 2;
    const before = hits.length;
    const sub = await submitJob(buyer, m.series, 10, 'retry', { callbackUrl: `http://vm:${port}/hook` });
    expect(sub.status, sub.text).toBe(201);
    await complete(sub.body.id);
    const list = await waitFor(
      'three attempts',
      async () => {
        const a = await attempts(sub.body.id);
        return a.length >= 3 && a;
      },
      20_000,
    );
    expect(list.map((a) => [a.attempt, a.outcome, a.httpStatus])).toEqual([
      [1, 'FAILED', 503],
      [2, 'FAILED', 503],
      [3, 'DELIVERED', 204],
    ]);
    // Exponential from WEBHOOK_RETRY_DELAY_MS (300): ≥ 300 ms, then ≥ 600 ms.
    const at = list.map((a) => Date.parse(a.at));
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(300);
    expect(at[2] - at[1]).toBeGreaterThanOrEqual(600);
    expect(hits.length - before).toBe(3);
    expect(JSON.parse(hits.at(-1)!)).toMatchObject({ event: 'delivery.job.completed', job: { id: sub.body.id } });

    // Paged; the buyer's own and clearing only.
    const page = await buyer.client.get<{ items: Attempt[]; nextCursor: string }>(
      `/v1/delivery/jobs/${sub.body.id}/webhook-deliveries?limit=2`,
    );
    expect(page.body.items).toHaveLength(2);
    const rest = await buyer.client.get<{ items: Attempt[] }>(
      `/v1/delivery/jobs/${sub.body.id}/webhook-deliveries?limit=2&cursor=${page.body.nextCursor}`,
    );
    expect(rest.body.items.map((a) => a.attempt)).toEqual([3]);
    expect(await attempts(sub.body.id, t.clearing)).toHaveLength(3);
    expectProblem(await m.buyers[1].client.get(`/v1/delivery/jobs/${sub.body.id}/webhook-deliveries`), 404, 'NOT_FOUND');
    expectProblem(await m.operators[0].member.client.get(`/v1/delivery/jobs/${sub.body.id}/webhook-deliveries`), 403, 'FORBIDDEN_ROLE');
  });

  it('the webhook secret is shown once: a replay answers 409 SECRET_ALREADY_ISSUED', async () => {
    const headers = { 'Idempotency-Key': 'whsec-1' };
    const first = await buyer.client.post<{ secret: string }>(`/v1/members/${buyer.id}/webhook-secret`, {}, headers);
    expect(first.status, first.text).toBe(201);
    expect(first.body.secret).toMatch(/^whsec_/);
    const replay = await buyer.client.post(`/v1/members/${buyer.id}/webhook-secret`, {}, headers);
    expectProblem(replay, 409, 'SECRET_ALREADY_ISSUED');
    expect(replay.text).not.toContain(first.body.secret);
    // Kept in clear in webhook_secrets only (signing needs it), nowhere else.
    expect((await wherePlaintext(t, first.body.secret)).filter((w) => !w.startsWith('webhook_secrets'))).toEqual([]);
  });
});
