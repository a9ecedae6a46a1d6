import { maintenanceFen, portfolioMarginOf, type LegSums, type PortfolioMargin, type ProductRisk } from './portfolio-margin.js';

export interface ProductRequirement extends PortfolioMargin {
  productId: string;
  maintenanceFen: bigint;
}

/** A member's initial and maintenance requirement over its products (its legs' sums in each), each margined as one portfolio. */
export function memberRequirement(
  sumsByProduct: Map<string, LegSums>,
  riskOf: (productId: string) => ProductRisk,
): { imFen: bigint; maintenanceFen: bigint; products: ProductRequirement[] } {
  const products: ProductRequirement[] = [];
  let im = 0n;
  let mm = 0n;
  for (const [productId, sums] of sumsByProduct) {
    const risk = riskOf(productId);
    const m = portfolioMarginOf(sums, risk);
    const maintenance = maintenanceFen(m.totalFen, risk);
    products.push({ productId, ...m, maintenanceFen: maintenance });
    im += m.totalFen;
    mm += maintenance;
  }
  return { imFen: im, maintenanceFen: mm, products };
}

/** Equity (cash + margin + P&L not yet settled) below the maintenance requirement: the call's amount, else 0. */
export function maintenanceShortfallFen(equityFen: bigint, requirementFen: bigint): bigint {
  return equityFen < requirementFen ? requirementFen - equityFen : 0n;
}
