import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../src/platform/time/clock.js';
import { expire, physicalMarket, submitJob, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import { expectProblem } from '../harness/factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

/**
 * SPEC §6.1, fair attribution: a buyer cannot flood jobs into the last seconds of the window and
 * turn take-or-pay into an operator's shortfall — a job that cannot finish before deliveryEnd at
 * the product's guaranteed rate is refused at submission.
 */
describe('late flood: DELIVERY_WINDOW_TOO_SHORT', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  beforeAll(async () => {
    t = await startTestApp();
    m = await physicalMarket(t, {
      operators: 1,
      nodesPerOperator: 1,
      buyers: 1,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
      product: { minTokensPerSecond: 10 },
    });
    await expire(t, m);
  });
  afterAll(() => t.close());

  it('30 s before the end at 10 tokens/s: 250 tokens still fit (5 s to spare: the clock moves on while the test runs, slowly on a loaded machine), 301 do not — alone or in a batch — and nothing is reserved for them', async () => {
    t.app.get(Clock).set(new Date(m.deliveryEnd.getTime() - 30_000));
    const buyer = m.buyers[0];
    const obligation = () => t.prisma.deliveryObligation.findFirstOrThrow({ where: { seriesId: m.seriesId } });
    const before = await obligation();

    expectProblem(await submitJob(buyer, m.series, 301, 'late'), 409, 'DELIVERY_WINDOW_TOO_SHORT');
    const batch = await buyer.client.post<{ items: { status: number; problem?: { code: string } }[] }>('/v1/delivery/jobs/batch', {
      jobs: [301, 5_000, 250].map((maxTokens) => ({
        series: m.series,
        modelClass: 'llm-70b-instruct',
        messages: [{ role: 'user', content: 'late' }],
        maxTokens,
      })),
    });
    expect(batch.status, batch.text).toBe(200);
    expect(batch.body.items.map((i) => [i.status, i.problem?.code])).toEqual([
      [409, 'DELIVERY_WINDOW_TOO_SHORT'],
      [409, 'DELIVERY_WINDOW_TOO_SHORT'],
      [201, undefined],
    ]);
    // Only the job that fits reserved tokens.
    expect((await obligation()).reservedTokens).toBe(before.reservedTokens + 250n);
    expect((await submitJob(buyer, m.series, 250, 'just in time')).status).toBe(201);
  });
});
