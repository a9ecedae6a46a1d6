import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobBatchRepository } from '../../src/delivery/job-batch.repository.js';
import { SubmissionBatcher, type Submission } from '../../src/delivery/submission-batcher.js';
import { ListingCache } from '../../src/markets/listing-cache.js';
import { settledLater } from '../../src/platform/batching/group-commit.js';
import { expiredMarket, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import type { TestApp } from '../harness/test-app.js';

/**
 * A job's prompt is counted while its submission waits for a batch (the row is the only thing
 * that needs the count): the batch awaits the counts, and one that failed refuses its own
 * submission without touching the others' rows or reservations.
 */
describe('submissions counted while they wait for their batch', () => {
  let t: TestApp;
  let m: PhysicalMarket;

  beforeAll(async () => {
    ({ t, m } = await expiredMarket(
      {},
      { operators: 1, nodesPerOperator: 1, buyers: 1, trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }] },
    ));
  });
  afterAll(() => t.close());

  const submission = async (maxTokens: number, count: Submission['countedPromptTokens']): Promise<Submission> => ({
    id: randomUUID(),
    fromKey: false,
    buyerId: m.buyers[0].id,
    series: (await t.app.get(ListingCache).seriesByCode(m.series))!,
    obligationId: null,
    modelClass: 'llm-70b-instruct',
    region: null,
    messages: [{ role: 'user', content: 'ok' }],
    maxTokens,
    callbackUrl: null,
    countedPromptTokens: count,
  });

  it('a failed count refuses its submission alone; the batch writes the others with their counts', async () => {
    const batcher = t.app.get(SubmissionBatcher);
    let finishLate!: (n: number) => void;
    const late = new Promise<number>((r) => (finishLate = r));
    const failure = new Error('counting thread lost');
    // The first goes alone; the next three wait for it and form one batch, whose third count
    // finishes only after the batch has formed.
    const first = await submission(100, Promise.resolve(7));
    const batch = [
      await submission(200, Promise.resolve(11)),
      await submission(300, settledLater(Promise.reject(failure))),
      await submission(400, late),
    ];
    // The late count finishes only once its batch's transaction has read the obligations: the
    // count overlaps that round trip instead of holding the transaction back. A batch that awaited
    // its counts before reading would never read, and this test would time out.
    const repo = t.app.get(JobBatchRepository);
    const read = repo.obligationsFor.bind(repo);
    let reads = 0;
    repo.obligationsFor = (...args) => {
      if (++reads === 2) setTimeout(() => finishLate(13), 20);
      return read(...args);
    };
    const results = Promise.allSettled([first, ...batch].map((s) => batcher.submit(s))).finally(() => (repo.obligationsFor = read));
    const [a, b, c, d] = await results;
    expect([a.status, b.status, c.status, d.status]).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((c as PromiseRejectedResult).reason).toBe(failure);

    const rows = await t.prisma.deliveryJob.findMany({ where: { id: { in: [first, ...batch].map((s) => s.id) } } });
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.has(batch[1].id)).toBe(false);
    expect([first, batch[0], batch[2]].map((s) => [byId.get(s.id)?.countedPromptTokens, byId.get(s.id)?.reservedTokens])).toEqual([
      [7, 100n],
      [11, 200n],
      [13, 400n],
    ]);
    const o = await t.prisma.deliveryObligation.findFirstOrThrow({ where: { seriesId: m.seriesId } });
    expect(o.reservedTokens).toBe(700n);
  });

  it('a batch whose every count failed refuses each and writes nothing', async () => {
    const batcher = t.app.get(SubmissionBatcher);
    const before = await t.prisma.deliveryObligation.findFirstOrThrow({ where: { seriesId: m.seriesId } });
    const failure = new Error('counting thread lost');
    const doomed = [
      await submission(10, settledLater(Promise.reject(failure))),
      await submission(20, settledLater(Promise.reject(failure))),
    ];
    const results = await Promise.allSettled(doomed.map((s) => batcher.submit(s)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await t.prisma.deliveryJob.count({ where: { id: { in: doomed.map((s) => s.id) } } })).toBe(0);
    const after = await t.prisma.deliveryObligation.findFirstOrThrow({ where: { seriesId: m.seriesId } });
    expect(after.reservedTokens).toBe(before.reservedTokens);
  });
});
