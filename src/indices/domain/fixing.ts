import { createHash } from 'node:crypto';

/**
 * The TokenClear token index (SPEC §6.8): one CNY price per model class, fixed at each business
 * day's cut-off from TokenClear's own prints. Pure rules, no I/O; the methodology is written out
 * for people in docs/index-methodology.md and must say what this file does.
 *
 * Prints and weights (prices in fen per 1,000,000 tokens, weights in tokens):
 *  - a trade in the front month (the series of the model class with the earliest delivery start
 *    still ahead of or in delivery on the business date) weighs its tokens in full;
 *  - a trade in a deferred month weighs half its tokens (its price carries the term structure);
 *  - a delivery print (an obligation's price, for the tokens delivered under it that day) weighs
 *    its tokens in full.
 *
 * Fallback order, the first that applies (the method is recorded with the fixing):
 *  1. TRADES: at least one trade and trades + deliveries reach the minimum volume — the weighted
 *     average of every print;
 *  2. DELIVERIES: no trades (or not enough) but deliveries alone reach the minimum volume — the
 *     delivery-weighted price;
 *  3. PREVIOUS: the previous fixing's price, carried;
 *  4. nothing: no fixing is published for the day (the first days of an index).
 * Rounding, stated once: the weighted average is rounded to the nearest fen, halves up.
 */

export type FixingMethod = 'TRADES' | 'DELIVERIES' | 'PREVIOUS';

export interface TradePrint {
  id: string;
  priceFen: bigint;
  tokens: bigint;
  frontMonth: boolean;
}

export interface DeliveryPrint {
  obligationId: string;
  priceFen: bigint;
  tokens: bigint;
}

export interface FixingInputs {
  trades: readonly TradePrint[];
  deliveries: readonly DeliveryPrint[];
  previous?: { id: string; priceFen: bigint };
  minVolumeTokens: bigint;
}

export interface FixingResult {
  priceFen: bigint;
  method: FixingMethod;
  /** Tokens behind the price (weights before the deferred-month halving): 0 for PREVIOUS. */
  volumeTokens: bigint;
  /** Ids of the prints used, so a fixing can be recomputed and audited. */
  inputs: { trades: string[]; obligations: string[]; previous?: string };
}

/** Weighted average rounded to the nearest fen, halves up: (2·Σpw + Σw) div (2·Σw). */
export function weightedPrice(prints: readonly { priceFen: bigint; weight: bigint }[]): bigint {
  let sum = 0n;
  let weight = 0n;
  for (const p of prints) {
    sum += p.priceFen * p.weight;
    weight += p.weight;
  }
  if (weight <= 0n) throw new Error('weightedPrice needs a positive total weight');
  return (2n * sum + weight) / (2n * weight);
}

/** Twice the weight, so a deferred month's half weight stays an integer. */
function tradeWeight(t: TradePrint): bigint {
  return t.frontMonth ? 2n * t.tokens : t.tokens;
}

export function computeFixing(inputs: FixingInputs): FixingResult | undefined {
  const trades = inputs.trades.filter((t) => t.tokens > 0n);
  const deliveries = inputs.deliveries.filter((d) => d.tokens > 0n);
  const tradeTokens = trades.reduce((n, t) => n + t.tokens, 0n);
  const deliveredTokens = deliveries.reduce((n, d) => n + d.tokens, 0n);
  if (trades.length > 0 && tradeTokens + deliveredTokens >= inputs.minVolumeTokens) {
    return {
      priceFen: weightedPrice([
        ...trades.map((t) => ({ priceFen: t.priceFen, weight: tradeWeight(t) })),
        ...deliveries.map((d) => ({ priceFen: d.priceFen, weight: 2n * d.tokens })),
      ]),
      method: 'TRADES',
      volumeTokens: tradeTokens + deliveredTokens,
      inputs: { trades: trades.map((t) => t.id), obligations: deliveries.map((d) => d.obligationId) },
    };
  }
  if (deliveries.length > 0 && deliveredTokens >= inputs.minVolumeTokens) {
    return {
      priceFen: weightedPrice(deliveries.map((d) => ({ priceFen: d.priceFen, weight: d.tokens }))),
      method: 'DELIVERIES',
      volumeTokens: deliveredTokens,
      inputs: { trades: [], obligations: deliveries.map((d) => d.obligationId) },
    };
  }
  if (inputs.previous) {
    return {
      priceFen: inputs.previous.priceFen,
      method: 'PREVIOUS',
      volumeTokens: 0n,
      inputs: { trades: [], obligations: [], previous: inputs.previous.id },
    };
  }
  return undefined;
}

export interface ChainedFixing {
  indexCode: string;
  businessDate: string;
  priceFen: bigint;
  method: string;
  volumeTokens: bigint;
  inputs: unknown;
  correctsId: string | null;
  reason: string | null;
}

/** Objects with their keys sorted, recursively: Postgres JSONB does not keep the order they were written in. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  return value;
}

/**
 * Each fixing's hash covers its content and the previous fixing's hash (of the same index, in
 * publication order), so no published row can be changed or removed unseen: reconciliation
 * recomputes the chain. Canonical JSON: fixed field order, object keys sorted, bigints as decimal
 * strings — so the hash of a row read back from the database equals the hash it was written with.
 */
export function fixingHash(prevHash: string | null, f: ChainedFixing): string {
  const text = JSON.stringify([
    prevHash ?? '',
    f.indexCode,
    f.businessDate,
    f.priceFen.toString(),
    f.method,
    f.volumeTokens.toString(),
    canonical(f.inputs),
    f.correctsId,
    f.reason,
  ]);
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The first link whose stored hash does not match the recomputed chain (or whose stored prevHash
 * does not name the link before it), if any.
 */
export function firstBrokenLink<T extends ChainedFixing & { id: string; hash: string | null; prevHash?: string | null }>(
  chain: readonly T[],
): T | undefined {
  let prev: string | null = null;
  for (const f of chain) {
    if (f.hash === null || fixingHash(prev, f) !== f.hash) return f;
    if (f.prevHash !== undefined && (f.prevHash ?? null) !== prev) return f;
    prev = f.hash;
  }
  return undefined;
}
