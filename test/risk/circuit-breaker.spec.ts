import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../src/platform/time/clock.js';
import { createMember, expectProblem } from '../harness/factories.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';
import { expectRestingConsistent } from '../harness/market-checks.js';

interface SeriesDetail {
  status: string;
  pausedUntil: string | null;
  marketData: { last: string | null; circuitBreakerEvents: { kind: string; price: string | null; anchor: string | null }[] };
}

describe('dynamic circuit breaker', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('an order outside the band is refused and pauses the series; orders wait; trading resumes with the breach as anchor', async () => {
    const product = await createProduct(t, { feePerContractFen: 0, circuitBreakerBp: 500, circuitBreakerPauseSeconds: 1 });
    const series = await createSeries(t, product); // reference 4.00, no trade yet: band 3.80..4.20
    const [x, y] = [await createMember(t, 'TRADER'), await createMember(t, 'TRADER')];
    for (const m of [x, y]) await fund(t, m, '1000.00');

    // Inside the band it trades; resting outside it is fine (nothing trades).
    expect((await order(y, series, 'SELL', '4.20', 1)).status).toBe(201);
    expect((await order(x, series, 'BUY', '4.20', 1)).body.filledQuantity).toBe(1);
    expect((await order(y, series, 'SELL', '4.30', 2)).status).toBe(201);

    const breach = await order(x, series, 'BUY', '4.30', 1);
    expectProblem(breach, 409, 'SERIES_PAUSED');
    const paused = await t.clearing.get<SeriesDetail>(`/v1/series/${series}`);
    expect(paused.body.status).toBe('PAUSED');
    expect(paused.body.pausedUntil).not.toBeNull();
    expect(paused.body.marketData.circuitBreakerEvents).toEqual([
      { kind: 'PAUSED', at: expect.any(String), price: '4.30', anchor: '4.00' },
    ]);
    // During the pause every order is refused, inside the band or not.
    expectProblem(await order(x, series, 'BUY', '4.00', 1), 409, 'SERIES_PAUSED');
    // The public board shows it too.
    const board = await fetch(`${t.baseUrl}/v1/public/market`);
    expect(board.status).toBe(200);
    expect(JSON.stringify(await board.json())).toMatch(new RegExp(`"code":"${series}".*?"status":"PAUSED"`));

    // After the pause: the breach price is the anchor (4.30 ± 5 %), so 4.30 trades now.
    await new Promise((r) => setTimeout(r, 1_100));
    const after = await order(x, series, 'BUY', '4.30', 1);
    expect(after.status, after.text).toBe(201);
    expect(after.body.filledQuantity).toBe(1);
    // The delayed job (through the outbox) records the resume.
    const deadline = Date.now() + 10_000;
    let detail: SeriesDetail;
    do {
      detail = (await t.clearing.get<SeriesDetail>(`/v1/series/${series}`)).body;
      if (detail.marketData.circuitBreakerEvents[0]?.kind === 'RESUMED') break;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() < deadline);
    expect(detail.status).toBe('TRADING');
    expect(detail.marketData.circuitBreakerEvents.map((e) => e.kind)).toEqual(['RESUMED', 'PAUSED']);
  });

  it('the anchor is the last trade at least 60 minutes old, else the reference price; a breach anchors after it', async () => {
    const clock = t.app.get(Clock);
    const t0 = new Date('2026-12-01T02:00:00Z').getTime();
    const at = (minutes: number) => clock.set(new Date(t0 + minutes * 60_000));
    at(0);
    try {
      const product = await createProduct(t, { feePerContractFen: 0, circuitBreakerBp: 500, circuitBreakerPauseSeconds: 1 });
      const series = await createSeries(t, product, {
        lastTradingAt: '2026-12-20T07:00:00Z',
        deliveryStart: '2026-12-21T00:00:00Z',
        deliveryEnd: '2026-12-31T00:00:00Z',
      });
      const [x, y] = [await createMember(t, 'TRADER'), await createMember(t, 'TRADER')];
      for (const m of [x, y]) await fund(t, m, '1000.00');
      const trade = async (price: string) => {
        expect((await order(y, series, 'SELL', price, 1)).status).toBe(201);
        return order(x, series, 'BUY', price, 1);
      };
      expect((await trade('4.00')).body.filledQuantity).toBe(1);
      at(30);
      // No trade is an hour old yet: the anchor is the reference price 4.00 (band 3.80..4.20).
      expect((await trade('4.20')).body.filledQuantity).toBe(1);
      at(61);
      // The 4.00 trade is now the last one at least an hour old: 4.21 is beyond 4.00 + 5 %.
      expect((await order(y, series, 'SELL', '4.21', 1)).status).toBe(201);
      expectProblem(await order(x, series, 'BUY', '4.21', 1), 409, 'SERIES_PAUSED');
      at(91);
      // The 4.20 trade (30 min) is an hour old now, but the breach at 61 min is newer: anchor 4.21,
      // band 4.00..4.42 (4.43 would breach again).
      expect((await order(x, series, 'BUY', '4.21', 1)).body.filledQuantity).toBe(1);
      expect((await trade('4.42')).body.filledQuantity).toBe(1);
    } finally {
      clock.set(new Date());
    }
  });

  it('resting quantities kept for the risk checks equal the live orders', async () => {
    await expectRestingConsistent(t.prisma);
  });
});
