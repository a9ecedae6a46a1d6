import type { Product } from '../../generated/prisma/client.js';
import type { ProductRisk } from '../../risk/domain/portfolio-margin.js';
import { multiplier } from './contract-math.js';

/** A product's risk parameters as the pure risk math takes them. */
export function productRisk(p: Product): ProductRisk {
  return {
    multiplier: multiplier(p.contractSizeTokens),
    initialMarginBp: p.initialMarginBp,
    maintenanceMarginBp: p.maintenanceMarginBp,
    spreadChargeBp: p.spreadChargeBp,
    concentrationThresholdBp: p.concentrationThresholdBp,
    concentrationAddOnBp: p.concentrationAddOnBp,
  };
}

/** Margin differs from the sum of outrights only with a spread charge or a concentration add-on. */
export const hasPortfolioMargin = (p: Product): boolean => p.spreadChargeBp !== null || p.concentrationAddOnBp > 0;

/** The batch must read a member's other series of the product (portfolio margin, all-months limit). */
export const readsProductLegs = (p: Product): boolean => hasPortfolioMargin(p) || p.positionLimit !== null;
