import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { decodeCursor, toPage, type Page } from '../platform/pagination/page.js';
import { CapacityRepository, type CapacityKey, type CapacityRow } from './capacity.repository.js';
import { NoOpenObligations, committedKey, type CommittedCapacitySource } from './committed-capacity.js';
import type { CapacityRowView } from './dto/capacity.dto.js';

// A capacity page resumes after the last row's model class and region (neither holds a newline).
const CAPACITY_CURSOR = /^[^\n]{1,64}\n[^\n]{1,64}$/;

/** Market-wide capacity and the capacity-backed selling limit ("warehouse receipt"). */
@Injectable()
export class CapacityViewService {
  private committed: CommittedCapacitySource = new NoOpenObligations();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repo: CapacityRepository,
  ) {}

  /**
   * Delivery (which depends on capacity, not the other way round) plugs in what open obligations
   * commit at boot.
   */
  useCommittedSource(source: CommittedCapacitySource): void {
    this.committed = source;
  }

  /** Every row of online capacity net of commitments (one per model class × region at most). */
  async aggregate(filter: { modelClass?: string; region?: string }): Promise<CapacityRowView[]> {
    const [rows, committed] = await Promise.all([this.repo.aggregate(filter), this.committed.committedTokensPerSecond(filter)]);
    return rows.map((r) => this.rowView(r, committed));
  }

  /** The same rows a page at a time, in (modelClass, region) order. */
  async aggregatePage(
    filter: { modelClass?: string; region?: string },
    cursor: string | undefined,
    limit: number,
  ): Promise<Page<CapacityRowView>> {
    const [modelClass, region] = decodeCursor(cursor, CAPACITY_CURSOR)?.split('\n') ?? [];
    const after: CapacityKey | undefined = modelClass === undefined ? undefined : { modelClass, region };
    const [rows, committed] = await Promise.all([
      this.repo.aggregate(filter, { after, limit }),
      this.committed.committedTokensPerSecond(filter),
    ]);
    return toPage(
      rows,
      limit,
      (r) => `${r.modelClass}\n${r.region}`,
      (r) => this.rowView(r, committed),
    );
  }

  private rowView(r: CapacityRow, committed: Map<string, bigint>): CapacityRowView {
    const committedTps = committed.get(committedKey(r.modelClass, r.region)) ?? 0n;
    const available = r.tokensPerSecond > committedTps ? r.tokensPerSecond - committedTps : 0n;
    return {
      modelClass: r.modelClass,
      region: r.region,
      onlineNodes: r.onlineNodes,
      tokensPerSecond: Number(r.tokensPerSecond),
      committedTokensPerSecond: Number(committedTps),
      availableTokensPerSecond: Number(available),
    };
  }

  /**
   * Tokens an operator's registered, non-OFFLINE nodes can deliver over a window:
   * tokens/s × window seconds × utilisation (basis points, rounded down: never over-promise).
   */
  async deliverableTokens(
    operatorId: string,
    modelClass: string,
    window: { start: Date; end: Date },
    regions?: readonly string[],
  ): Promise<bigint> {
    return (await this.deliverableTokensMany([operatorId], modelClass, window, regions)).get(operatorId)!;
  }

  /** The same for many operators in one statement. */
  async deliverableTokensMany(
    operatorIds: string[],
    modelClass: string,
    window: { start: Date; end: Date },
    regions?: readonly string[],
  ): Promise<Map<string, bigint>> {
    const seconds = BigInt(Math.max(0, Math.floor((window.end.getTime() - window.start.getTime()) / 1000)));
    const tps = await this.repo.operatorsTokensPerSecond(operatorIds, modelClass, regions);
    return new Map([...tps].map(([id, t]) => [id, (t * seconds * BigInt(this.config.capacity.utilisationBp)) / 10_000n]));
  }
}
