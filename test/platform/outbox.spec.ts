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

describe('transactional outbox across a Redis outage', () => {
  let redis: RedisProcess;
  let t: TestApp;

  beforeAll(async () => {
    redis = await RedisProcess.start();
    // role api: no relay loop of its own, so the test drives relayOnce() deterministically.
    t = await startTestApp({ redisUrl: redis.url, role: 'api' });
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
});

describe('outbox relay wake-ups', () => {
  let t: TestApp;
  let repo: OutboxRepository;
  let outbox: OutboxService;
  let passes = 0;
  /** Runs once inside the next pass, after its read: a commit racing the pass. */
  let duringPass: (() => Promise<void>) | undefined;
  const enqueue = (id: string) =>
    t.prisma.$transaction((tx) => outbox.enqueue(tx, 'maintenance.purge-idempotency', { retentionHours: 48 }, { jobId: id }));
  const sentAt = async (id: string) => (await t.prisma.outboxMessage.findUnique({ where: { jobId: id } }))?.sentAt ?? null;

  beforeAll(async () => {
    // The relay's own loop (role all), polling only once a minute: only pokes can move rows in time.
    t = await startTestApp({ env: { OUTBOX_POLL_MS: '60000' } });
    repo = t.app.get(OutboxRepository);
    outbox = t.app.get(OutboxService);
    const claim = repo.claimUnsent.bind(repo);
    repo.claimUnsent = async (tx, limit) => {
      passes++;
      const rows = await claim(tx, limit);
      const race = duringPass;
      duringPass = undefined;
      await race?.();
      return rows;
    };
  });
  afterAll(() => t.close());

  it('a poke that comes while a pass runs sends its row at once, not at the next poll', async () => {
    await new Promise((r) => setTimeout(r, 300));
    duringPass = async () => {
      await enqueue('raced-the-pass');
      outbox.poke();
    };
    outbox.poke(); // starts the pass that the commit above races
    await waitFor(async () => (await sentAt('raced-the-pass')) !== null, 5_000);
  });

  it('one poke, one pass: no empty pass after one that sent', async () => {
    await new Promise((r) => setTimeout(r, 300));
    const before = passes;
    await enqueue('one-pass');
    outbox.poke();
    await waitFor(async () => (await sentAt('one-pass')) !== null, 5_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(passes - before).toBe(1);
  });
});

describe('outbox relay in a worker-role process', () => {
  let t: TestApp;
  let outbox: OutboxService;
  let duringPass: (() => Promise<void>) | undefined;
  const enqueue = (id: string) =>
    t.prisma.$transaction((tx) => outbox.enqueue(tx, 'maintenance.purge-idempotency', { retentionHours: 48 }, { jobId: id }));
  const sentAt = async (id: string) => (await t.prisma.outboxMessage.findUnique({ where: { jobId: id } }))?.sentAt ?? null;

  beforeAll(async () => {
    // The API's commits happen in other processes and cannot poke this relay; it polls once a minute.
    t = await startTestApp({ role: 'worker', env: { OUTBOX_POLL_MS: '60000' } });
    outbox = t.app.get(OutboxService);
    const repo = t.app.get(OutboxRepository);
    const claim = repo.claimUnsent.bind(repo);
    repo.claimUnsent = async (tx, limit) => {
      const rows = await claim(tx, limit);
      const race = duringPass;
      duringPass = undefined;
      await race?.();
      return rows;
    };
  });
  afterAll(() => t.close());

  it('while rows flow it goes round again at once: a row committed elsewhere during a pass that sent is not left for the poll', async () => {
    await new Promise((r) => setTimeout(r, 300));
    // Committed as an API process would: no poke reaches this relay.
    duringPass = () => enqueue('from-another-process').then(() => undefined);
    await enqueue('poked-here');
    outbox.poke();
    await waitFor(async () => (await sentAt('poked-here')) !== null, 5_000);
    await waitFor(async () => (await sentAt('from-another-process')) !== null, 5_000);
  });
});
