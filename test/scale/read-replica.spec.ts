import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/platform/metrics/metrics.js';
import { createMember } from '../harness/factories.js';
import { createProduct, createSeries, fund, order } from '../harness/market-factories.js';
import { PgReplicaPair } from '../harness/pg-replica.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

const MAX_LAG_MS = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * DATABASE_READ_URL on a real streaming replica (a private primary + pg_basebackup replica):
 * market data and lists are read there while it keeps up, and from the primary while it lags
 * (replay paused) or is down.
 */
describe('read replica for read-only endpoints', () => {
  let pair: PgReplicaPair;
  let t: TestApp;
  let metrics: Metrics;
  let seriesCodes: () => Promise<string[]>;

  beforeAll(async () => {
    pair = await PgReplicaPair.start();
    t = await startTestApp({
      databaseUrl: pair.primaryUrl,
      env: { DATABASE_READ_URL: pair.replicaUrl, READ_MAX_LAG_MS: String(MAX_LAG_MS) },
    });
    metrics = t.app.get(Metrics);
    seriesCodes = async () => {
      const res = await t.clearing.get<{ items: { code: string }[] }>('/v1/series?limit=200');
      expect(res.status, res.text).toBe(200);
      return res.body.items.map((s) => s.code);
    };
  }, 180_000);

  afterAll(async () => {
    await t?.close();
    await pair?.stop();
  });

  it('serves GET /v1/series and GET /v1/trades from the replica while it keeps up', async () => {
    const x = await createMember(t, 'TRADER');
    const y = await createMember(t, 'TRADER');
    await fund(t, x, '1000.00');
    await fund(t, y, '1000.00');
    const series = await createSeries(t, await createProduct(t));
    expect((await order(x, series, 'SELL', '4.00', 2)).status).toBe(201);
    expect((await order(y, series, 'BUY', '4.00', 2)).status).toBe(201);
    await pair.waitCaughtUp();
    await sleep(1_100); // past the lag cache

    const before = await metrics.readsServed();
    expect(await seriesCodes()).toContain(series);
    const trades = await y.client.get<{ items: { series: string; quantity: number }[] }>(`/v1/trades?series=${series}`);
    expect(trades.status, trades.text).toBe(200);
    expect(trades.body.items).toEqual([expect.objectContaining({ series, quantity: 2 })]);
    const after = await metrics.readsServed();
    expect(after.replica - before.replica).toBeGreaterThanOrEqual(2);
    expect(after.primary - before.primary).toBe(0);
  });

  it('bypasses a lagging replica (replay paused, then a write on the primary): the new row is seen, read from the primary', async () => {
    await pair.pauseReplay();
    try {
      const series = await createSeries(t, await createProduct(t));
      await sleep(MAX_LAG_MS + 1_100); // lag past the limit, and the cached reading expired
      const before = await metrics.readsServed();
      expect(await seriesCodes()).toContain(series);
      const after = await metrics.readsServed();
      expect(after.primary - before.primary).toBe(1);
      expect(after.replica - before.replica).toBe(0);
    } finally {
      await pair.resumeReplay();
    }
    await pair.waitCaughtUp();
    await sleep(1_100);
    const before = await metrics.readsServed();
    await seriesCodes();
    expect((await metrics.readsServed()).replica - before.replica).toBe(1);
  });

  it('falls back to the primary while the replica is down', async () => {
    await pair.stopReplica();
    try {
      const series = await createSeries(t, await createProduct(t));
      const before = await metrics.readsServed();
      expect(await seriesCodes()).toContain(series);
      const after = await metrics.readsServed();
      expect(after.primary - before.primary).toBe(1);
    } finally {
      await pair.startReplica();
    }
  });
});
