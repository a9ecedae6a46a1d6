import { expect } from 'vitest';
import { Clock } from '../../src/platform/time/clock.js';
import { createMember, type TestMember } from './factories.js';
import { createProduct, createSeries, fund, order } from './market-factories.js';
import type { TestApp } from './test-app.js';

export interface RunView {
  id: string;
  status: string;
  price: string;
  checksum: string;
  businessDate: string;
  transferCount: number;
}

/** Starts a settlement run over HTTP and waits until the worker has completed it. */
export async function settle(t: TestApp, body: { type: string; series: string; businessDate?: string }): Promise<RunView> {
  const started = await t.clearing.post<RunView>('/v1/settlement/runs', body);
  expect(started.status, started.text).toBe(201);
  return waitForRun(t, started.body.id);
}

export async function waitForRun(t: TestApp, id: string): Promise<RunView> {
  for (let i = 0; i < 400; i++) {
    const run = await t.clearing.get<RunView>(`/v1/settlement/runs/${id}`);
    if (run.body.status === 'COMPLETED') return run.body;
    if (run.body.status === 'FAILED') throw new Error(`run failed: ${run.text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`run ${id} did not complete`);
}

/**
 * The settlement scenarios' market: a service clock at 14:40 Shanghai on 2026-12-01 (inside the
 * 30-minute VWAP window), three funded traders, and cash series of one product (10M-token
 * contracts, reference price 4.00, no fees unless overridden) trading until 2026-12-20.
 */
export async function threeTradersMarket(
  t: TestApp,
  seriesCodes: string[],
  product: Record<string, unknown> = {},
): Promise<{ clock: Clock; a: TestMember; b: TestMember; c: TestMember }> {
  const clock = t.app.get(Clock);
  clock.set(new Date('2026-12-01T06:40:00Z'));
  const [a, b, c] = [await createMember(t, 'TRADER'), await createMember(t, 'TRADER'), await createMember(t, 'TRADER')];
  for (const m of [a, b, c]) await fund(t, m, '1000.00');
  const productCode = await createProduct(t, { feePerContractFen: 0, ...product });
  for (const code of seriesCodes)
    await createSeries(t, productCode, {
      code,
      lastTradingAt: '2026-12-20T07:00:00Z',
      deliveryStart: '2026-12-21T00:00:00Z',
      deliveryEnd: '2026-12-31T00:00:00Z',
    });
  return { clock, a, b, c };
}

/**
 * A business date (2026-12-01) that has ended: two funded traders traded 2 contracts at 4.00 in
 * `code`, clearing fixed the day's settlement price at 4.10, and the service clock is on the next
 * day — ready for its DAILY run.
 */
export async function endedDayWithTrade(t: TestApp, code: string): Promise<{ a: TestMember; b: TestMember }> {
  const clock = t.app.get(Clock);
  clock.set(new Date('2026-12-01T02:00:00Z'));
  const [a, b] = [await createMember(t, 'TRADER'), await createMember(t, 'TRADER')];
  for (const m of [a, b]) await fund(t, m, '100.00');
  const product = await createProduct(t, { feePerContractFen: 0 });
  await createSeries(t, product, {
    code,
    lastTradingAt: '2026-12-20T06:00:00Z',
    deliveryStart: '2026-12-21T06:00:00Z',
    deliveryEnd: '2026-12-22T06:00:00Z',
  });
  await order(a, code, 'SELL', '4.00', 2);
  await order(b, code, 'BUY', '4.00', 2);
  expect((await t.clearing.post(`/v1/series/${code}/settlement-price`, { price: '4.10', businessDate: '2026-12-01' })).status).toBe(201);
  clock.set(new Date('2026-12-02T02:00:00Z'));
  return { a, b };
}
