import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MembersRepository } from '../../src/members/members.repository.js';
import { OutboxRelay } from '../../src/platform/queues/outbox-relay.js';
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
