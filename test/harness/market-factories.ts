import { expect } from 'vitest';
import type { TestMember } from './factories.js';
import type { TestApp } from './test-app.js';

let seq = 0;
const HOUR = 3_600_000;

export async function createProduct(t: TestApp, overrides: Record<string, unknown> = {}): Promise<string> {
  const code = `P${++seq}-${Math.random().toString(36).slice(2, 6).toUpperCase()}`;
  const res = await t.clearing.post('/v1/products', {
    code,
    modelClass: 'llm-70b-instruct',
    contractSizeTokens: 10_000_000,
    tickFen: 1,
    settlementType: 'CASH',
    initialMarginBp: 1_000,
    maintenanceMarginBp: 750,
    feePerContractFen: 5,
    penaltyBp: 2_000,
    maxTtftMs: 2_000,
    minTokensPerSecond: 20,
    regions: ['cn-east-1', 'cn-north-1'],
    inputTokenWeightBp: 2_500,
    // No verification re-runs unless a spec asks (test/delivery/verification*.spec.ts): a sampled
    // 2 % would add jobs, fees and penalties at random to specs that count them exactly.
    verificationBp: 0,
    ...overrides,
  });
  expect(res.status, res.text).toBe(201);
  return code;
}

export async function createSeries(t: TestApp, productCode: string, overrides: Record<string, unknown> = {}): Promise<string> {
  const code = `${productCode}-S${++seq}`;
  const now = Date.now();
  const res = await t.clearing.post('/v1/series', {
    productCode,
    code,
    lastTradingAt: new Date(now + 48 * HOUR).toISOString(),
    deliveryStart: new Date(now + 49 * HOUR).toISOString(),
    deliveryEnd: new Date(now + 73 * HOUR).toISOString(),
    referencePrice: '4.00',
    ...overrides,
  });
  expect(res.status, res.text).toBe(201);
  return code;
}

export async function fund(t: TestApp, m: TestMember, amount: string): Promise<void> {
  const res = await t.clearing.post(`/v1/members/${m.id}/deposits`, { amount, currency: 'CNY', reference: `F${++seq}` });
  expect(res.status, res.text).toBe(201);
}

export function order(
  m: TestMember,
  series: string,
  side: 'BUY' | 'SELL',
  price: unknown,
  quantity: unknown,
  timeInForce: 'GTC' | 'IOC' = 'GTC',
  extra: Record<string, unknown> = {},
) {
  return m.client.post<{ id: string; status: string; filledQuantity: number; trades: { id: string; price: string; quantity: number }[] }>(
    '/v1/orders',
    {
      series,
      side,
      price,
      quantity,
      timeInForce,
      ...extra,
    },
  );
}
