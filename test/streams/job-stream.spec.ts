import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completionOf, expiredMarket, submitJob, waitFor, type LeasedJob, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import { Redis } from 'ioredis';
import { JobStream } from '../../src/delivery/job-stream.js';
import { listeningKey, redisChannel } from '../../src/streams/stream-events.js';
import { StreamPublisher } from '../../src/streams/stream-publisher.js';
import type { TestApp } from '../harness/test-app.js';
import { StreamClient, type StreamMessage } from './stream-client.js';

// SPEC §6.6: the private `jobs` channel — each status change of a delivery job, once committed,
// reaches its buyer and its operator, and nobody else's subscription.
describe('jobs on /v1/stream', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  const clients: StreamClient[] = [];
  beforeAll(async () => {
    ({ t, m } = await expiredMarket(
      {},
      {
        operators: 1,
        nodesPerOperator: 1,
        buyers: 2,
        trades: [
          { seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 },
          { seller: ['op', 0], buyer: ['buyer', 1], quantity: 1 },
        ],
      },
    ));
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

// Job events are the stream's bulk (three a job, thousands of jobs a second): none is built or
// published while no API copy has a `jobs` subscriber, and the first subscriber loses nothing.
describe('jobs on /v1/stream: published only while someone listens', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  let redis: Redis;
  let probe: Redis;
  const heard: string[] = [];
  const clients: StreamClient[] = [];
  beforeAll(async () => {
    ({ t, m } = await expiredMarket(
      {},
      {
        operators: 1,
        nodesPerOperator: 1,
        buyers: 1,
        trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
      },
    ));
    // What goes over Redis, heard as another API copy would.
    redis = new Redis(t.config.redisUrl);
    redis.on('message', (_channel: string, payload: string) => heard.push(payload));
    await redis.subscribe(redisChannel(t.config.queuePrefix));
    probe = new Redis(t.config.redisUrl);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    redis.disconnect();
    probe.disconnect();
    await t.close();
  });

  const jobEventsHeard = () => heard.filter((p) => p.includes('"channel":"jobs"'));

  it('commits handed over while a round runs share one question to Redis (one EXISTS a round, not one a commit)', async () => {
    const stream = t.app.get(JobStream);
    const publisher = t.app.get(StreamPublisher);
    const ask = publisher.listening.bind(publisher);
    let asked = 0;
    publisher.listening = (channel) => {
      asked++;
      return ask(channel);
    };
    try {
      const [buyer] = m.buyers;
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push((await submitJob(buyer, m.series, 100, `round ${i}`)).body.id);
      await stream.flushed();
      const rows = await t.prisma.deliveryJob.findMany({ where: { id: { in: ids } } });
      asked = 0;
      // Five commits' rows in one turn, as a busy API hands them over: one round, one question.
      for (const job of rows) stream.committed([{ job, usage: null }]);
      await stream.flushed();
      expect(asked).toBe(1);
      expect(jobEventsHeard()).toEqual([]);
    } finally {
      publisher.listening = ask;
    }
  });

  it('nobody subscribed: a job change publishes nothing; the first subscriber’s snapshot shows it, and its next change arrives', async () => {
    const [buyer] = m.buyers;
    const quiet = (await submitJob(buyer, m.series, 100, 'nobody is listening')).body.id;
    await waitFor('dispatched', async () => {
      const res = await buyer.client.get<{ status: string }>(`/v1/delivery/jobs/${quiet}`);
      return res.body.status === 'DISPATCHED' ? true : undefined;
    });
    await t.app.get(JobStream).flushed();
    expect(await probe.exists(listeningKey(t.config.queuePrefix, 'jobs'))).toBe(0);
    expect(jobEventsHeard()).toEqual([]);

    const c = await StreamClient.connect(t, { key: buyer.key });
    clients.push(c);
    const snapshot = await c.subscribe('jobs');
    expect(snapshot.type).toBe('snapshot');
    expect(JSON.stringify(snapshot)).toContain(quiet);
    // Announced for a while, and renewed while the subscriber stays.
    const ttl = await probe.pttl(listeningKey(t.config.queuePrefix, 'jobs'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);

    const next = (await submitJob(buyer, m.series, 100, 'someone is listening')).body.id;
    const event = await c.next((msg) => msg.type === 'event' && (msg.data as { id: string }).id === next, 10_000);
    expect(event.data).toMatchObject({ id: next, status: 'QUEUED' });
    expect(jobEventsHeard().some((p) => p.includes(next))).toBe(true);
    expect(jobEventsHeard().some((p) => p.includes(quiet))).toBe(false);
  });
});
