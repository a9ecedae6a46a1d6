import { Inject, Injectable } from '@nestjs/common';
import type { DataCenter } from '../generated/prisma/client.js';
import { generateSecret, hashApiKey } from '../platform/auth/api-key.js';
import { assertCanSee, memberScope } from '../platform/auth/ownership.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/config.js';
import { DomainError } from '../platform/errors/error-codes.js';
import { isUuid } from '../platform/http/ids.js';
import type { Principal } from '../platform/http/request-context.js';
import { decodeCursor, toPage, type Page } from '../platform/pagination/page.js';
import { TransactionRunner } from '../platform/prisma/transaction-runner.js';
import { CapacityEvents } from './capacity.events.js';
import { CapacityRepository, type CreatedKey, type ModelCapacity, type NodeWithModels } from './capacity.repository.js';
import type { DataCenterView, NodeCreatedView, NodeView } from './dto/capacity.dto.js';

export function toNodeView(n: NodeWithModels): NodeView {
  return {
    id: n.id,
    dataCenterId: n.dataCenterId,
    operatorId: n.operatorId,
    region: n.region,
    gpuModel: n.gpuModel,
    gpuCount: n.gpuCount,
    status: n.status,
    models: n.models
      .map((m) => ({ modelClass: m.modelClass, tokensPerSecond: m.tokensPerSecond }))
      .sort((a, b) => a.modelClass.localeCompare(b.modelClass)),
    lastHeartbeatAt: n.lastHeartbeatAt?.toISOString() ?? null,
    load: n.loadPercent,
    createdAt: n.createdAt.toISOString(),
  };
}

function toDataCenterView(d: DataCenter): DataCenterView {
  return { id: d.id, operatorId: d.operatorId, name: d.name, region: d.region, createdAt: d.createdAt.toISOString() };
}

// Lists in registration order resume after the last row's instant (ms) and id.
const createdKey = (r: CreatedKey): string => `${r.createdAt.getTime()}|${r.id}`;

function afterCreated(cursor: string | undefined): CreatedKey | undefined {
  const key = decodeCursor(cursor, /^\d{1,15}\|[0-9a-f-]{36}$/);
  if (key === undefined) return undefined;
  const [ms, id] = key.split('|');
  return { createdAt: new Date(Number(ms)), id };
}

/** Data centers and nodes of operators: registration, operator updates, agent heartbeats. */
@Injectable()
export class CapacityService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly repo: CapacityRepository,
    private readonly events: CapacityEvents,
  ) {}

  async createDataCenter(p: Principal, name: string, region: string): Promise<DataCenterView> {
    this.assertRegion(region);
    try {
      return toDataCenterView(await this.repo.createDataCenter({ operatorId: p.memberId, name, region }));
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002') throw new DomainError('DATA_CENTER_NAME_TAKEN');
      throw err;
    }
  }

  /** Operators see their own data centers, clearing staff every one. */
  async listDataCenters(p: Principal, cursor: string | undefined, limit: number): Promise<Page<DataCenterView>> {
    const rows = await this.repo.listDataCenters(memberScope(p), afterCreated(cursor), limit);
    return toPage(rows, limit, createdKey, toDataCenterView);
  }

  async createNode(
    p: Principal,
    dto: { dataCenterId: string; gpuModel: string; gpuCount: number; models: ModelCapacity[] },
  ): Promise<NodeCreatedView> {
    const dc = await this.repo.findDataCenter(dto.dataCenterId);
    if (!dc || dc.operatorId !== p.memberId) throw new DomainError('NOT_FOUND', 'data center not found');
    this.assertModels(dto.models);
    const nodeToken = generateSecret('tcn_');
    const node = await this.repo.createNode({
      dataCenterId: dc.id,
      operatorId: p.memberId,
      region: dc.region,
      gpuModel: dto.gpuModel,
      gpuCount: dto.gpuCount,
      tokenHash: hashApiKey(nodeToken),
      models: dto.models,
    });
    return Object.assign(toNodeView(node), { nodeToken });
  }

  /** A new node token, shown once; the old one is refused from now on. */
  async rotateToken(p: Principal, id: string): Promise<{ id: string; nodeToken: string }> {
    const node = await this.getNode(p, id);
    if (node.operatorId !== p.memberId) throw new DomainError('NOT_FOUND', 'node not found');
    const nodeToken = generateSecret('tcn_');
    await this.repo.replaceToken(id, hashApiKey(nodeToken));
    return { id, nodeToken };
  }

  async getNode(p: Principal, id: string): Promise<NodeWithModels> {
    const node = isUuid(id) ? await this.repo.findNode(id) : null;
    if (!node) throw new DomainError('NOT_FOUND', 'node not found');
    assertCanSee(p, node.operatorId, 'node');
    return node;
  }

  /** Operators see their own nodes, clearing staff every one. */
  async listNodes(p: Principal, cursor: string | undefined, limit: number): Promise<Page<NodeView>> {
    const rows = await this.repo.listNodes(memberScope(p), afterCreated(cursor), limit);
    return toPage(rows, limit, createdKey, toNodeView);
  }

  /** Operators drain a node or bring a drained one back; an OFFLINE node comes back by heartbeat only. */
  async updateNode(p: Principal, id: string, dto: { status?: 'ONLINE' | 'DRAINING'; models?: ModelCapacity[] }): Promise<NodeView> {
    const node = await this.getNode(p, id);
    if (node.operatorId !== p.memberId) throw new DomainError('NOT_FOUND', 'node not found');
    if (dto.models) this.assertModels(dto.models);
    if (dto.status && node.status === 'OFFLINE') throw new DomainError('NODE_OFFLINE');
    await this.tx.run(async (tx) => {
      if (dto.models) await this.repo.replaceModels(tx, id, dto.models);
      if (dto.status) await this.repo.setStatus(tx, id, dto.status);
    });
    return toNodeView((await this.repo.findNode(id))!);
  }

  async heartbeat(
    nodeId: string,
    load?: number,
    models?: ModelCapacity[],
    leases?: string[],
  ): Promise<{ status: string; nextHeartbeatInMs: number }> {
    if (models) {
      this.assertModels(models);
      await this.tx.run((tx) => this.repo.replaceModels(tx, nodeId, models));
    }
    const status = await this.repo.heartbeat(nodeId, load ?? null);
    if (!status) throw new DomainError('NOT_FOUND', 'node not found');
    this.events.heartbeat.next({ nodeId, leases });
    return { status, nextHeartbeatInMs: this.config.capacity.heartbeatIntervalMs };
  }

  assertRegion(region: string): void {
    if (!this.config.regions.includes(region)) {
      throw new DomainError('UNKNOWN_REGION', `region must be one of ${this.config.regions.join(', ')}`, [
        { field: 'region', message: 'unknown region' },
      ]);
    }
  }

  assertModelClass(modelClass: string, field = 'modelClass'): void {
    if (!this.config.modelClasses.includes(modelClass)) {
      throw new DomainError('UNKNOWN_MODEL_CLASS', `model class must be one of ${this.config.modelClasses.join(', ')}`, [
        { field, message: 'unknown model class' },
      ]);
    }
  }

  private assertModels(models: ModelCapacity[]): void {
    const seen = new Set<string>();
    models.forEach((m, i) => {
      this.assertModelClass(m.modelClass, `models.${i}.modelClass`);
      if (seen.has(m.modelClass))
        throw new DomainError('DUPLICATE_MODEL_CLASS', `${m.modelClass} is listed twice`, [
          { field: `models.${i}.modelClass`, message: 'duplicate' },
        ]);
      seen.add(m.modelClass);
    });
  }
}
