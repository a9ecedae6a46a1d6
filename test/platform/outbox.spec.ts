import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MembersRepository } from '../../src/members/members.repository.js';
import { OutboxRelay } from '../../src/platform/queues/outbox-relay.js';
import { OutboxRepository } from '../../src/platform/queues/outbox.repository.js';
import { OutboxService } from '../../src/platform/queues/outbox.service.js';
import { Queues } from '../../src/platform/queues/queues.js';
import { RedisProcess } from '../harness/redis-process.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('transactional outbox across a Redis outage, and a Redis that stops answering', () => {
  let redis: RedisProcess;
  let t: TestApp;

  beforeAll(async () => {
    redis = await RedisProcess.start();
    // role api: no relay loop of its own, so the test drives relayOnce() deterministically.
    t = await startTestApp({ redisUrl: redis.url, role: 'api', env: { OUTBOX_RELAY_TIMEOUT_MS: '500' } });
  });
  afterAll(async () => {
    await t.close();
    await redis.kill();
  });

  it('commits the business write while Redis is down and enqueues it exactly once when Redis returns', async () => {
    const relay = t.app.get(OutboxRelay);
    const outbox = t.app.get(OutboxService);
    const queue = t.app.get(Queues).get('maintenance');
    const members = t.app.get(MembersRepository);

    await expect(
      t.prisma.$transaction((tx) => outbox.enqueue(tx, 'maintenance.purge-idempotency', { retentionHours: 1 }, { jobId: 'bad:id' })),
    ).rejects.toThrow(/must match/);

    await redis.kill();
    const member = await t.prisma.$transaction(async (tx) => {
      const m = await members.create(tx, { name: 'Outage Co', kind: 'BUYER' });
      await outbox.enqueue(tx, 'maintenance.purge-idempotency', { retentionHours: 48 }, { jobId: `purge-${m.id}` });
      return m;
    });
    expect(await t.prisma.member.findUnique({ where: { id: member.id } })).not.toBeNull();
    await expect(relay.relayOnce()).rejects.toThrow();
    const pending = await t.prisma.outboxMessage.findUniqueOrThrow({ where: { jobId: `purge-${member.id}` } });
    expect(pending.sentAt).toBeNull();

    await redis.up();
    await waitFor(
      async () => (await relay.relayOnce().catch(() => -1)) >= 0 && (await queue.getJob(`purge-${member.id}`)) !== undefined,
      15_000,
    );
    const sent = await t.prisma.outboxMessage.findUniqueOrThrow({ where: { jobId: `purge-${member.id}` } });
    expect(sent.sentAt).not.toBeNull();

    // A relay that crashed after adding but before marking sent relays the row again: still one job.
    await t.prisma.outboxMessage.update({ where: { jobId: `purge-${member.id}` }, data: { sentAt: null } });
    expect(await relay.relayOnce()).toBe(1);
    const counts = await queue.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed');
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('gives the pass up after OUTBOX_RELAY_TIMEOUT_MS, rolled back; the row goes once Redis answers, as one job', async () => {
    const relay = t.app.get(OutboxRelay);
    const outbox = t.app.get(OutboxService);
    const queue = t.app.get(Queues).get('maintenance');
    const jobId = `purge-paused-${Date.now()}`;
    await t.prisma.$transaction((tx) => outbox.enqueue(tx, 'maintenance.purge-idempotency', { retentionHours: 12 }, { jobId }));

    // Connected but answering no write for 3 s: the producer's commands wait, they do not fail.
    const admin = new Redis(redis.url);
    try {
      await admin.call('CLIENT', 'PAUSE', '3000', 'WRITE');
      const started = Date.now();
      await expect(relay.relayOnce()).rejects.toThrow(/did not answer the outbox relay within 500 ms/);
      expect(Date.now() - started).toBeLessThan(2_000);
      // Rolled back: the row is unsent and unlocked (a pass of another relay could take it now).
      const row = await t.prisma.outboxMessage.findUniqueOrThrow({ where: { jobId } });
      expect(row.sentAt).toBeNull();
      expect(row.attempts).toBe(0);

      await waitFor(async () => (await relay.relayOnce().catch(() => -1)) >= 1, 10_000);
      expect((await t.prisma.outboxMessage.findUniqueOrThrow({ where: { jobId } })).sentAt).not.toBeNull();
      // The paused pass's add landed too once Redis answered: still one job under the row's id.
      const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed']);
      expect(jobs.filter((j) => j.id === jobId)).toHaveLength(1);
    } finally {
      await admin.call('CLIENT', 'UNPAUSE').catch(() => undefined);
      admin.disconnect();
    }
  });
});

/**
 * An app whose relay polls only once a minute (only pokes move rows in time), its passes counted,
 * with `duringPass` run once inside the next pass after its read: a commit racing the pass.
 */
async function instrumentedRelay(role?: 'worker') {
  const t = await startTestApp({ ...(role ? { role } : {}), env: { OUTBOX_POLL_MS: '60000' } });
  const outbox = t.app.get(OutboxService);
  const repo = t.app.get(OutboxRepository);
  const relay = {
    t,
    outbox,
    passes: 0,
    duringPass: undefined as (() => Promise<unknown>) | undefined,
    enqueue: (id: string) =>
      t.prisma.$transaction((tx) => outbox.enqueue(tx, 'maintenance.purge-idempotency', { retentionHours: 48 }, { jobId: id })),
    sentAt: async (id: string) => (await t.prisma.outboxMessage.findUnique({ where: { jobId: id } }))?.sentAt ?? null,
  };
  const claim = repo.claimUnsent.bind(repo);
  repo.claimUnsent = async (tx, limit) => {
    relay.passes++;
    const rows = await claim(tx, limit);
    const race = relay.duringPass;
    relay.duringPass = undefined;
    await race?.();
    return rows;
  };
  return relay;
}

describe('outbox relay wake-ups', () => {
  let r: Awaited<ReturnType<typeof instrumentedRelay>>;
  beforeAll(async () => {
    // The relay's own loop (role all): this process's commits poke it.
    r = await instrumentedRelay();
  });
  afterAll(() => r.t.close());

  it('a poke that comes while a pass runs sends its row at once, not at the next poll', async () => {
    await new Promise((res) => setTimeout(res, 300));
    r.duringPass = async () => {
      await r.enqueue('raced-the-pass');
      r.outbox.poke();
    };
    r.outbox.poke(); // starts the pass that the commit above races
    await waitFor(async () => (await r.sentAt('raced-the-pass')) !== null, 5_000);
  });

  it('one poke, one pass: no empty pass after one that sent', async () => {
    await new Promise((res) => setTimeout(res, 300));
    const before = r.passes;
    await r.enqueue('one-pass');
    r.outbox.poke();
    await waitFor(async () => (await r.sentAt('one-pass')) !== null, 5_000);
    await new Promise((res) => setTimeout(res, 300));
    expect(r.passes - before).toBe(1);
  });
});

describe('outbox relay in a worker-role process', () => {
  let r: Awaited<ReturnType<typeof instrumentedRelay>>;
  beforeAll(async () => {
    // The API's commits happen in other processes and cannot poke this relay.
    r = await instrumentedRelay('worker');
  });
  afterAll(() => r.t.close());

  it('while rows flow it goes round again at once: a row committed elsewhere during a pass that sent is not left for the poll', async () => {
    await new Promise((res) => setTimeout(res, 300));
    // Committed as an API process would: no poke reaches this relay.
    r.duringPass = () => r.enqueue('from-another-process');
    await r.enqueue('poked-here');
    r.outbox.poke();
    await waitFor(async () => (await r.sentAt('poked-here')) !== null, 5_000);
    await waitFor(async () => (await r.sentAt('from-another-process')) !== null, 5_000);
  });
});
