// Portfolio initial margin of one member in one product (SPEC 6.3). Pure: no Nest, no Prisma.
// Amounts are exact bigint fen; every bp charge is summed as a numerator in fen × 10,000 and
// rounded UP once (against the member), as the money rule says.

/** A member's exposure in one series of the product, valued at that series' margin price. */
export interface SeriesLeg {
  seriesId: string;
  /** long − short contracts */
  net: number;
  restingBuyQty: number;
  restingSellQty: number;
  /** Margin price, fen per 1M tokens. */
  priceFen: bigint;
  /** The series' open interest in contracts (concentration add-on only). */
  openInterest: number;
}

export interface ProductRisk {
  /** contractSizeTokens / 1,000,000 */
  multiplier: bigint;
  initialMarginBp: number;
  maintenanceMarginBp: number;
  /** null: no calendar-spread credit, the product margins as the sum of its outrights. */
  spreadChargeBp: number | null;
  concentrationThresholdBp: number;
  concentrationAddOnBp: number;
}

export interface PortfolioMargin {
  /** Σ per series ⌈worst-case contracts × price × multiplier × initialMarginBp / 10,000⌉ — today's figure. */
  outrightFen: bigint;
  /** Worst loss over the price scenarios, the spread charge included (= outright without a spread credit). */
  scenarioFen: bigint;
  /** The spread charge inside `scenarioFen`. */
  spreadFen: bigint;
  /** The part of the outrights the spread credit saves (≥ 0). */
  spreadCreditFen: bigint;
  concentrationFen: bigint;
  /** min(scenario, outright) + concentration. */
  totalFen: bigint;
}

const TEN_K = 10_000n;
const ceilDiv = (n: bigint, d: bigint): bigint => (n <= 0n ? 0n : (n + d - 1n) / d);

/** Contracts at risk if every resting order on the worse side filled. */
export function worstCase(l: Pick<SeriesLeg, 'net' | 'restingBuyQty' | 'restingSellQty'>): number {
  return Math.max(0, l.net + l.restingBuyQty, l.restingSellQty - l.net);
}

/**
 * What the margin of a member's legs in one product is made of: sums over its legs, so the same
 * figures can be summed in SQL over a million positions (`RiskMarksRepository.requirementSums`)
 * and combined here. Each numerator is in fen × 10,000, rounded up once when combined.
 */
export interface LegSums {
  legs: number;
  /** Σ per series ⌈worst-case contracts × price × multiplier × initialMarginBp / 10,000⌉. */
  outrightFen: bigint;
  /** Σ (worstCase − ⌊OI × thresholdBp / 10,000⌋)⁺ × price × multiplier × addOnBp, when the product has an add-on. */
  concentrationNum: bigint;
  /** The highest price of a leg at risk (worst case > 0), 0 without one. */
  maxPriceFen: bigint;
  /**
   * Loss of each series at a price move, worst case over its resting orders: prices up, every
   * resting sell fills (position net − sell); prices down, every resting buy fills (net + buy):
   * Σ contracts × price × multiplier × initialMarginBp, and the contracts losing and gaining in each move.
   */
  up: bigint;
  down: bigint;
  shortUp: bigint;
  gainUp: bigint;
  longDown: bigint;
  gainDown: bigint;
}

/** The sums of `legs`, leg by leg: the rule the SQL sums follow. */
export function legSums(legs: readonly SeriesLeg[], p: ProductRisk): LegSums {
  const s: LegSums = {
    legs: legs.length,
    outrightFen: 0n,
    concentrationNum: 0n,
    maxPriceFen: 0n,
    up: 0n,
    down: 0n,
    shortUp: 0n,
    gainUp: 0n,
    longDown: 0n,
    gainDown: 0n,
  };
  const bp = BigInt(p.initialMarginBp);
  for (const l of legs) {
    s.outrightFen += outrightFen(l, p);
    const wc = worstCase(l);
    if (wc > 0 && l.priceFen > s.maxPriceFen) s.maxPriceFen = l.priceFen;
    if (p.concentrationAddOnBp > 0 && wc > 0) {
      const free = (BigInt(l.openInterest) * BigInt(p.concentrationThresholdBp)) / TEN_K;
      const excess = BigInt(wc) - free;
      if (excess > 0n) s.concentrationNum += excess * l.priceFen * p.multiplier * BigInt(p.concentrationAddOnBp);
    }
    const unit = l.priceFen * p.multiplier * bp;
    const u = BigInt(l.restingSellQty - l.net); // contracts losing when prices rise
    const d = BigInt(l.net + l.restingBuyQty); // contracts losing when prices fall
    s.up += u * unit;
    s.down += d * unit;
    if (u > 0n) s.shortUp += u;
    else s.gainUp -= u;
    if (d > 0n) s.longDown += d;
    else s.gainDown -= d;
  }
  return s;
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);

/** Outright initial margin of one series: exactly the pre-portfolio figure. */
export function outrightFen(l: SeriesLeg, p: ProductRisk): bigint {
  return ceilDiv(BigInt(worstCase(l)) * l.priceFen * p.multiplier * BigInt(p.initialMarginBp), TEN_K);
}

/**
 * Initial margin of a member's legs in one product:
 *   scenario  = max(0, lossUp + spread·offsetUp, lossDown + spread·offsetDown)   (parallel moves of ± initialMarginBp)
 *   spread·k  = k offset contracts × maxPrice × multiplier × spreadChargeBp / 10,000
 *   total     = min(scenario, Σ outright) + Σ concentration
 *   concentration_i = (worstCase_i − ⌊OI_i × thresholdBp / 10,000⌋)⁺ × price_i × multiplier × addOnBp / 10,000
 * Losses are linear in the move, so the ± full moves are the worst scenarios; offsetting legs in
 * different series (gains against losses in one move) pay the spread charge instead.
 */
export function portfolioMargin(legs: readonly SeriesLeg[], p: ProductRisk): PortfolioMargin {
  return portfolioMarginOf(legSums(legs, p), p);
}

/** The same from the legs' sums. */
export function portfolioMarginOf(s: LegSums, p: ProductRisk): PortfolioMargin {
  const outright = s.outrightFen;
  const concentration = ceilDiv(s.concentrationNum, TEN_K);
  if (p.spreadChargeBp === null || s.legs < 2) {
    return {
      outrightFen: outright,
      scenarioFen: outright,
      spreadFen: 0n,
      spreadCreditFen: 0n,
      concentrationFen: concentration,
      totalFen: outright + concentration,
    };
  }
  const offsetUp = min(s.shortUp, s.gainUp);
  const offsetDown = min(s.longDown, s.gainDown);
  const perOffset = s.maxPriceFen * p.multiplier * BigInt(p.spreadChargeBp);
  const up = s.up + offsetUp * perOffset;
  const down = s.down + offsetDown * perOffset;
  const scenario = ceilDiv(max(up, down), TEN_K);
  const spread = ceilDiv(up >= down ? offsetUp * perOffset : offsetDown * perOffset, TEN_K);
  const core = min(scenario, outright);
  return {
    outrightFen: outright,
    scenarioFen: scenario,
    spreadFen: core === scenario ? spread : 0n,
    spreadCreditFen: outright - core,
    concentrationFen: concentration,
    totalFen: core + concentration,
  };
}

/**
 * The loss of the legs at a parallel move of `numerator / denominator` × initialMarginBp of each
 * price (−1 ≤ move ≤ 1), worst case over resting orders, in fen rounded up. Scenario grid for
 * tests and statements; the margin itself takes the extremes (losses are linear in the move).
 */
export function scenarioLossFen(legs: readonly SeriesLeg[], p: ProductRisk, numerator: number, denominator: number): bigint {
  let loss = 0n;
  for (const l of legs) {
    const unit = l.priceFen * p.multiplier * BigInt(p.initialMarginBp) * BigInt(Math.abs(numerator));
    loss += BigInt(numerator >= 0 ? l.restingSellQty - l.net : l.net + l.restingBuyQty) * unit;
  }
  return ceilDiv(loss, TEN_K * BigInt(denominator));
}

/** Maintenance requirement = IM × maintenanceMarginBp / initialMarginBp, rounded up. */
export function maintenanceFen(imFen: bigint, p: Pick<ProductRisk, 'initialMarginBp' | 'maintenanceMarginBp'>): bigint {
  if (p.initialMarginBp === 0) return 0n;
  return ceilDiv(imFen * BigInt(p.maintenanceMarginBp), BigInt(p.initialMarginBp));
}
