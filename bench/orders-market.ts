// bench:orders' market: funded TRADER members, and two products identical but for portfolio
// margin — BENCH (off) and BENCHPM (on) — each listed in monthly series.
import pg from 'pg';
import type { Send } from './http-load.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Portfolio margin as a real product carries it (SPEC §6.3; the figures test/risk/portfolio-margin
 * hand-computes): a 2 % calendar-spread charge instead of full margin on offsetting months, and a
 * 5 % add-on on a position above 20 % of its series' open interest.
 */
export const PORTFOLIO = { spreadChargeBp: 200, concentrationThresholdBp: 2_000, concentrationAddOnBp: 500 } as const;

export interface Market {
  /** One API key per client. */
  traders: string[];
  /** BENCH-S0 (the 1-series load) and BENCH-S1…S10. */
  off: string[];
  /** BENCHPM-S1…S10: the same months as BENCH-S1…S10. */
  on: string[];
}

export type Post = (path: string, body: unknown) => Promise<unknown>;

export function poster(base: string, key: string): Post {
  return async (path, body) => {
    const res = await fetch(base + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    // A refused setup call would leave the bench measuring something else: stop here.
    if (res.status >= 300) throw new Error(`POST ${path} → ${res.status} ${text}`);
    return JSON.parse(text) as unknown;
  };
}

/** `clients` TRADER members, each funded with 1,000,000.00 CNY: one trader API key each. */
export async function fundedTraders(post: Post, clients: number): Promise<string[]> {
  const traders: string[] = [];
  for (let i = 0; i < clients; i++) {
    const m = (await post('/v1/members', { name: `bench-${i}`, kind: 'TRADER' })) as { id: string };
    await post(`/v1/members/${m.id}/deposits`, { amount: '100000000.00', currency: 'CNY', reference: `B${i}` });
    traders.push(((await post(`/v1/members/${m.id}/api-keys`, { role: 'trader' })) as { key: string }).key);
  }
  return traders;
}

/** The benches' CASH product terms (a code is added by the caller). */
export function benchProductTerms(feeFen: number) {
  return {
    modelClass: 'llm-70b-instruct',
    contractSizeTokens: 10_000_000,
    tickFen: 1,
    settlementType: 'CASH',
    initialMarginBp: 1000,
    maintenanceMarginBp: 500,
    feePerContractFen: feeFen,
    penaltyBp: 0,
    maxTtftMs: 1000,
    minTokensPerSecond: 1,
    regions: ['cn-east-1'],
    inputTokenWeightBp: 0,
  };
}

export async function setupMarket(post: Post, clients: number, feeFen: number): Promise<Market> {
  const traders = await fundedTraders(post, clients);
  const product = benchProductTerms(feeFen);
  await post('/v1/products', { code: 'BENCH', ...product });
  await post('/v1/products', { code: 'BENCHPM', ...product, ...PORTFOLIO });
  // Months: series k trades until 2 days + k × 30 days from now, so a member's legs in several
  // series of a product are calendar spreads, as they would be on a real product.
  const list = async (productCode: string, k: number) => {
    const last = Date.now() + 48 * HOUR + k * 30 * DAY;
    const code = `${productCode}-S${k}`;
    await post('/v1/series', {
      productCode,
      code,
      lastTradingAt: new Date(last).toISOString(),
      deliveryStart: new Date(last + HOUR).toISOString(),
      deliveryEnd: new Date(last + 2 * HOUR).toISOString(),
      referencePrice: '4.00',
    });
    return code;
  };
  const off: string[] = [];
  const on: string[] = [];
  for (let k = 0; k <= 10; k++) off.push(await list('BENCH', k));
  for (let k = 1; k <= 10; k++) on.push(await list('BENCHPM', k));
  return { traders, off, on };
}

/**
 * Client c's i-th order goes to series (c + i) mod n. Its side flips every n orders: were it
 * (c + i) mod 2, as before, with an even number of series every order of a series would be on one
 * side and 10 series would never trade — only rest.
 */
export function orderTo(codes: string[], traders: string[]): Send {
  return (c, i) => {
    const fen = 395 + ((c * 7 + i * 13) % 11);
    const body = {
      series: codes[(c + i) % codes.length],
      side: (c + Math.floor(i / codes.length)) % 2 ? 'BUY' : 'SELL',
      price: `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`,
      quantity: 1 + (i % 5),
      timeInForce: i % 4 ? 'GTC' : 'IOC',
    };
    return { path: '/v1/orders', method: 'POST', key: traders[c], body };
  };
}

/** What the database holds for a product: its trades, and its members' portfolio adjustments. */
export async function productFacts(
  url: string,
  productCode: string,
): Promise<{ trades: number; adjustments: number; nonZero: number; creditFen: bigint; addOnFen: bigint }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ trades: string; adjustments: string; nonzero: string; credit: string; addon: string }>(
      `WITH p AS (SELECT id FROM products WHERE code = $1)
       SELECT (SELECT count(*) FROM trades t JOIN series s ON s.id = t."seriesId" WHERE s."productId" = (SELECT id FROM p)) AS trades,
              count(pm.*) AS adjustments,
              count(*) FILTER (WHERE pm."adjustmentFen" <> 0) AS nonzero,
              COALESCE(sum(-pm."adjustmentFen") FILTER (WHERE pm."adjustmentFen" < 0), 0) AS credit,
              COALESCE(sum(pm."adjustmentFen") FILTER (WHERE pm."adjustmentFen" > 0), 0) AS addon
         FROM portfolio_margins pm WHERE pm."productId" = (SELECT id FROM p)`,
      [productCode],
    );
    const r = rows[0];
    return {
      trades: Number(r.trades),
      adjustments: Number(r.adjustments),
      nonZero: Number(r.nonzero),
      creditFen: BigInt(r.credit),
      addOnFen: BigInt(r.addon),
    };
  } finally {
    await c.end();
  }
}
