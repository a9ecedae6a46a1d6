/**
 * The default waterfall (SPEC §6.4): a defaulter's loss is paid by these layers, strictly in
 * order — a layer is touched only once every earlier layer is exhausted, and no more than the loss
 * is ever taken:
 *   1. the defaulter's initial margin,
 *   2. the defaulter's guarantee-fund contribution,
 *   3. the CCP's own capital (`ccp:capital`, skin in the game),
 *   4. the surviving members' guarantee contributions, pro rata to their requirements.
 * Pure arithmetic in fen; each step becomes one ledger transfer through `ccp:default`.
 */

export type WaterfallLayer = 'DEFAULTER_MARGIN' | 'DEFAULTER_GUARANTEE' | 'CCP_CAPITAL' | 'SURVIVOR_GUARANTEE';

export interface Survivor {
  memberId: string;
  /** What the member's contribution holds now (fen). */
  contributionFen: bigint;
  /** The member's guarantee requirement (fen): the pro-rata key. */
  requirementFen: bigint;
}

export interface WaterfallResources {
  defaulterMarginFen: bigint;
  defaulterGuaranteeFen: bigint;
  ccpCapitalFen: bigint;
  survivors: readonly Survivor[];
}

export interface WaterfallStep {
  layer: WaterfallLayer;
  /** The member whose account pays (the defaulter, a survivor), or null for the CCP's capital. */
  memberId: string | null;
  amountFen: bigint;
}

export interface WaterfallOutcome {
  steps: WaterfallStep[];
  /** Paid by the layers in all. */
  coveredFen: bigint;
  /** Loss beyond every layer (the CCP's recovery tools take over from here). */
  uncoveredFen: bigint;
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);

/**
 * Survivors' shares of `amount`, pro rata to their requirements, each capped at what its
 * contribution holds. Rounding, stated once: shares are rounded down, and the fen left over go
 * one each by the largest-remainder rule (largest fractional part first, then the largest
 * requirement, then member id) within the caps — so the shares add up exactly. A survivor whose contribution runs out passes its
 * unpaid share on to the others in the next round.
 */
export function survivorShares(amountFen: bigint, survivors: readonly Survivor[]): Map<string, bigint> {
  const shares = new Map<string, bigint>(survivors.map((s) => [s.memberId, 0n]));
  const room = (s: Survivor) => s.contributionFen - shares.get(s.memberId)!;
  const desc = (x: bigint, y: bigint) => (x === y ? 0 : y > x ? 1 : -1);
  let left = amountFen;
  let open = survivors.filter((s) => s.contributionFen > 0n && s.requirementFen > 0n);
  // Each round pays at least a fen while anyone has room, so the loop ends.
  while (left > 0n && open.length > 0) {
    const total = open.reduce((n, s) => n + s.requirementFen, 0n);
    let paid = 0n;
    const remainders = new Map<string, bigint>();
    for (const s of open) {
      const due = min((left * s.requirementFen) / total, room(s));
      remainders.set(s.memberId, (left * s.requirementFen) % total);
      shares.set(s.memberId, shares.get(s.memberId)! + due);
      paid += due;
    }
    left -= paid;
    const order = [...open].sort(
      (a, b) =>
        desc(remainders.get(a.memberId)!, remainders.get(b.memberId)!) ||
        desc(a.requirementFen, b.requirementFen) ||
        a.memberId.localeCompare(b.memberId),
    );
    for (const s of order) {
      if (left === 0n) break;
      if (room(s) > 0n) {
        shares.set(s.memberId, shares.get(s.memberId)! + 1n);
        left -= 1n;
      }
    }
    open = open.filter((s) => room(s) > 0n);
  }
  return shares;
}

export function runWaterfall(defaulterId: string, lossFen: bigint, r: WaterfallResources): WaterfallOutcome {
  const steps: WaterfallStep[] = [];
  let left = lossFen > 0n ? lossFen : 0n;
  const take = (layer: WaterfallLayer, memberId: string | null, available: bigint) => {
    const amountFen = min(left, available > 0n ? available : 0n);
    if (amountFen > 0n) {
      steps.push({ layer, memberId, amountFen });
      left -= amountFen;
    }
  };
  take('DEFAULTER_MARGIN', defaulterId, r.defaulterMarginFen);
  take('DEFAULTER_GUARANTEE', defaulterId, r.defaulterGuaranteeFen);
  take('CCP_CAPITAL', null, r.ccpCapitalFen);
  if (left > 0n) {
    const shares = survivorShares(left, r.survivors);
    for (const s of [...r.survivors].sort((a, b) => a.memberId.localeCompare(b.memberId))) {
      const amountFen = shares.get(s.memberId) ?? 0n;
      if (amountFen > 0n) {
        steps.push({ layer: 'SURVIVOR_GUARANTEE', memberId: s.memberId, amountFen });
        left -= amountFen;
      }
    }
  }
  const covered = (lossFen > 0n ? lossFen : 0n) - left;
  return { steps, coveredFen: covered, uncoveredFen: left };
}
