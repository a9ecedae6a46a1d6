import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  completionOf,
  expire,
  physicalMarket,
  submitJob,
  waitFor,
  type LeasedJob,
  type PhysicalMarket,
} from '../harness/delivery-fixtures.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';
import { StreamClient, type StreamMessage } from './stream-client.js';

// SPEC §6.6: the private `jobs` channel — each status change of a delivery job, once committed,
// reaches its buyer and its operator, and nobody else's subscription.
describe('jobs on /v1/stream', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  const clients: StreamClient[] = [];
  beforeAll(async () => {
    t = await startTestApp();
    m = await physicalMarket(t, {
      operators: 1,
      nodesPerOperator: 1,
      buyers: 2,
      trades: [
        { seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 },
        { seller: ['op', 0], buyer: ['buyer', 1], quantity: 1 },
      ],
    });
    await expire(t, m);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await t.close();
  });

  it("a buyer sees its own job QUEUED → LEASED → COMPLETED with gapless seq, and none of another buyer's", async () => {
    const [a, b] = m.buyers;
    const connect = async (key: string) => {
      const c = await StreamClient.connect(t, { key });
      clients.push(c);
      expect((await c.subscribe('jobs')).type).toBe('snapshot');
      return c;
    };
    const [sa, sb, op] = [await connect(a.key), await connect(b.key), await connect(m.operators[0].member.key)];
    const mine = (await submitJob(a, m.series, 100, 'ok')).body.id;
    const theirs = (await submitJob(b, m.series, 100, 'ok')).body.id;
    const [node] = m.operators[0].nodes;
    const client = t.client(node.nodeToken);
    const leased = await waitFor('both leased', async () => {
      const res = await client.post<{ jobs: LeasedJob[] }>(`/v1/nodes/${node.id}/lease`, { maxJobs: 2, waitSeconds: 1 });
      return res.body.jobs.length > 0 ? res.body.jobs : undefined;
    });
    expect((await client.post(`/v1/nodes/${node.id}/completions`, { completions: leased.map((j) => completionOf(j)) })).status).toBe(200);

    const statusOf = (id: string) => (msg: StreamMessage) => msg.type === 'event' && (msg.data as { id: string; status: string }).id === id;
    await sa.next((msg) => statusOf(mine)(msg) && (msg.data as { status: string }).status === 'COMPLETED', 10_000);
    const events = sa.messages.filter((msg) => msg.channel === 'jobs' && msg.type === 'event');
    expect(events.every((e) => (e.data as { id: string }).id === mine)).toBe(true);
    expect(events.map((e) => (e.data as { status: string }).status)).toEqual(expect.arrayContaining(['QUEUED', 'COMPLETED']));
    // Each event is the job's view as that commit left it (built from the writer's rows, not read
    // back): the COMPLETED one is what the job's page shows now, less its output, decision log and
    // submission id (which never changes after the submission).
    const {
      output: _output,
      decisions: _decisions,
      submissionId: _submissionId,
      ...view
    } = (await a.client.get<{ timings: Record<string, string | null>; [field: string]: unknown }>(`/v1/delivery/jobs/${mine}`)).body;
    const completed = events.find((e) => (e.data as { status: string }).status === 'COMPLETED')!;
    expect(completed.data).toEqual(view);
    expect(view).toMatchObject({
      status: 'COMPLETED',
      usage: { billableTokens: expect.any(Number) },
      metering: { outputSha256: expect.any(String) },
    });
    const leasedEvent = await sa.next((msg) => statusOf(mine)(msg) && (msg.data as { status: string }).status === 'LEASED', 10_000);
    const lease = leased.find((j) => j.id === mine)!;
    expect(leasedEvent.data).toMatchObject({
      nodeId: node.id,
      leaseExpiresAt: lease.leaseExpiresAt,
      usage: null,
      timings: {
        createdAt: view.timings.createdAt,
        dispatchedAt: view.timings.dispatchedAt,
        leasedAt: view.timings.leasedAt,
        finishedAt: null,
      },
    });
    expect(JSON.stringify(leasedEvent.data)).not.toContain(lease.leaseToken);
    // The claim now returns the event's columns too (buyer, obligation, seller…): the node is still
    // handed only what it needs to run the job, and never who bought it.
    expect(Object.keys(lease).sort()).toEqual([
      'id',
      'leaseExpiresAt',
      'leaseToken',
      'maxTokens',
      'messages',
      'minTokensPerSecond',
      'modelClass',
      'seed',
    ]);
    expect(JSON.stringify(leased)).not.toContain(a.id);
    const jobSeqs = sa.messages.filter((msg) => msg.channel === 'jobs').map((msg) => msg.seq);
    expect(jobSeqs).toEqual(jobSeqs.map((_, i) => i + 1));
    // The other buyer saw only its own; the operator delivering both saw both.
    await sb.next((msg) => statusOf(theirs)(msg), 10_000);
    expect(sb.messages.some(statusOf(mine))).toBe(false);
    await op.next(statusOf(mine), 10_000);
    await op.next(statusOf(theirs), 10_000);
    expect(JSON.stringify(sa.messages)).not.toContain('memberIds');
  });
});
