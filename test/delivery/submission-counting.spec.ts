import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('a failed count refuses its submission alone; the batch writes the others with their counts', async () => {
    const series = await t.app.get(ListingCache).seriesByCode(m.series);
    const batcher = t.app.get(SubmissionBatcher);
    let finishLate!: (n: number) => void;
    const late = new Promise<number>((r) => (finishLate = r));
    const submission = (maxTokens: number, count: Submission['countedPromptTokens']): Submission => ({
      id: randomUUID(),
      fromKey: false,
      buyerId: m.buyers[0].id,
      series: series!,
      obligationId: null,
      modelClass: 'llm-70b-instruct',
      region: null,
      messages: [{ role: 'user', content: 'ok' }],
      maxTokens,
      callbackUrl: null,
      countedPromptTokens: count,
    });
    const failure = new Error('counting thread lost');
    // The first goes alone; the next three wait for it and form one batch, whose third count
    // finishes only after the batch has formed.
    const first = submission(100, Promise.resolve(7));
    const batch = [submission(200, Promise.resolve(11)), submission(300, settledLater(Promise.reject(failure))), submission(400, late)];
    const results = Promise.allSettled([first, ...batch].map((s) => batcher.submit(s)));
    setTimeout(() => finishLate(13), 50);
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
});
