/**
 * Tokens/s committed to open delivery obligations, per `${modelClass}|${region}`. The capacity
 * view subtracts it from online capacity. Until physical delivery exists no obligation is open,
 * so the source provided by this module reports none; the delivery module replaces the provider.
 */
export interface CommittedCapacitySource {
  committedTokensPerSecond(filter: { modelClass?: string; region?: string }): Promise<Map<string, bigint>>;
}

export const COMMITTED_CAPACITY = Symbol('COMMITTED_CAPACITY');

export const committedKey = (modelClass: string, region: string): string => `${modelClass}|${region}`;

export class NoOpenObligations implements CommittedCapacitySource {
  async committedTokensPerSecond(): Promise<Map<string, bigint>> {
    return new Map();
  }
}
