import { maintenanceFen, portfolioMargin, type PortfolioMargin, type ProductRisk, type SeriesLeg } from './portfolio-margin.js';

export interface ProductRequirement extends PortfolioMargin {
  productId: string;
  maintenanceFen: bigint;
}

/** A member's initial and maintenance requirement over its products, each product margined as one portfolio. */
export function memberRequirement(
  legsByProduct: Map<string, SeriesLeg[]>,
  riskOf: (productId: string) => ProductRisk,
): { imFen: bigint; maintenanceFen: bigint; products: ProductRequirement[] } {
  const products: ProductRequirement[] = [];
  let im = 0n;
  let mm = 0n;
  for (const [productId, legs] of legsByProduct) {
    const risk = riskOf(productId);
    const m = portfolioMargin(legs, risk);
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
