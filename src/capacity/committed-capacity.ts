/**
 * Tokens/s committed to open delivery obligations, per `${modelClass}|${region}`. The capacity
 * view subtracts it from online capacity. Without the delivery module no obligation exists, so
 * the default source reports none; the delivery module registers the real one at boot.
 */
export interface CommittedCapacitySource {
  committedTokensPerSecond(filter: { modelClass?: string; region?: string }): Promise<Map<string, bigint>>;
}

export const committedKey = (modelClass: string, region: string): string => `${modelClass}|${region}`;

export class NoOpenObligations implements CommittedCapacitySource {
  async committedTokensPerSecond(): Promise<Map<string, bigint>> {
    return new Map();
  }
}
