import { Injectable } from '@nestjs/common';
import type { DataCenter, Node, NodeModel } from '../generated/prisma/client.js';
import type { NodeStatus } from '../generated/prisma/enums.js';
import { coalescedLookup } from '../platform/batching/group-commit.js';
import { PrismaService, type Db } from '../platform/prisma/prisma.service.js';

export type NodeWithModels = Node & { models: NodeModel[] };
export interface ModelCapacity {
  modelClass: string;
  tokensPerSecond: number;
}

/** Where a page of rows in creation order resumes: the last row's instant and id. */
export interface CreatedKey {
  createdAt: Date;
  id: string;
}

/** Where a page of capacity rows resumes. */
export interface CapacityKey {
  modelClass: string;
  region: string;
}

const afterCreated = (after: CreatedKey | undefined) =>
  after ? { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] } : {};

export interface CapacityRow {
  modelClass: string;
  region: string;
  onlineNodes: number;
  tokensPerSecond: bigint;
}

export type NodeCredential = Pick<Node, 'id' | 'operatorId' | 'tokenHash'> & { operatorStatus: string };

@Injectable()
export class CapacityRepository {
  /** The node a token belongs to (every agent request asks). */
  readonly findNodeByTokenHash: (key: string) => Promise<NodeCredential | null>;

  constructor(private readonly prisma: PrismaService) {
    // With the operator's status: a suspended member's nodes are refused at the door.
    this.findNodeByTokenHash = coalescedLookup<NodeCredential>(
      prisma.pool,
      `SELECT n.id, n."operatorId", n."tokenHash", m.status::text AS "operatorStatus"
       FROM nodes n JOIN members m ON m.id = n."operatorId" WHERE n."tokenHash" = ANY($1::text[])`,
      (r) => r.tokenHash,
    );
  }

  /** A new token for the node; the old one stops matching at once (lookups are by hash). */
  async replaceToken(id: string, tokenHash: string): Promise<void> {
    await this.prisma.node.update({ where: { id }, data: { tokenHash } });
  }

  createDataCenter(data: { operatorId: string; name: string; region: string }): Promise<DataCenter> {
    return this.prisma.dataCenter.create({ data });
  }

  findDataCenter(id: string): Promise<DataCenter | null> {
    return this.prisma.dataCenter.findUnique({ where: { id } });
  }

  /** Data centers in registration order (id breaks ties), `limit + 1` of them after `after`. */
  listDataCenters(operatorId: string | undefined, after: CreatedKey | undefined, limit: number): Promise<DataCenter[]> {
    return this.prisma.dataCenter.findMany({
      where: { operatorId, ...afterCreated(after) },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: limit + 1,
    });
  }

  createNode(data: {
    dataCenterId: string;
    operatorId: string;
    region: string;
    gpuModel: string;
    gpuCount: number;
    tokenHash: string;
    models: ModelCapacity[];
  }): Promise<NodeWithModels> {
    const { models, ...node } = data;
    return this.prisma.node.create({ data: { ...node, models: { create: models } }, include: { models: true } });
  }

  findNode(id: string): Promise<NodeWithModels | null> {
    return this.prisma.node.findUnique({ where: { id }, include: { models: true } });
  }

  /** Nodes in registration order (id breaks ties), `limit + 1` of them after `after`. */
  listNodes(operatorId: string | undefined, after: CreatedKey | undefined, limit: number): Promise<NodeWithModels[]> {
    return this.prisma.node.findMany({
      where: { operatorId, ...afterCreated(after) },
      include: { models: true },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: limit + 1,
    });
  }

  async replaceModels(db: Db, nodeId: string, models: ModelCapacity[]): Promise<void> {
    await db.nodeModel.deleteMany({ where: { nodeId } });
    await db.nodeModel.createMany({ data: models.map((m) => ({ nodeId, ...m })) });
  }

  setStatus(db: Db, nodeId: string, status: NodeStatus): Promise<Node> {
    return db.node.update({ where: { id: nodeId }, data: { status } });
  }

  /**
   * One indexed UPDATE per heartbeat: OFFLINE comes back ONLINE; DRAINING stays DRAINING (an
   * operator's decision, not the agent's).
   */
  async heartbeat(nodeId: string, loadPercent: number | null): Promise<NodeStatus | undefined> {
    const rows = await this.prisma.$queryRaw<{ status: NodeStatus }[]>`
      UPDATE nodes SET "lastHeartbeatAt" = now(), "updatedAt" = now(),
        "loadPercent" = COALESCE(${loadPercent}::int, "loadPercent"),
        status = CASE WHEN status = 'OFFLINE' THEN 'ONLINE'::"NodeStatus" ELSE status END
      WHERE id = ${nodeId}::uuid
      RETURNING status`;
    return rows[0]?.status;
  }

  /** Marks silent nodes OFFLINE; returns the ids that changed now (each exactly once). */
  async sweepSilent(silenceMs: number): Promise<{ id: string; operatorId: string }[]> {
    return this.prisma.$queryRaw`
      UPDATE nodes SET status = 'OFFLINE', "updatedAt" = now()
      WHERE status <> 'OFFLINE' AND ("lastHeartbeatAt" IS NULL OR "lastHeartbeatAt" < now() - ${silenceMs} * interval '1 millisecond')
      RETURNING id, "operatorId"`;
  }

  /**
   * Online capacity per model class × region, as one consistent snapshot, in (modelClass, region)
   * order. With `page`: the `limit + 1` rows after `page.after`; without, every row (at most one per
   * configured model class × region).
   */
  aggregate(filter: { modelClass?: string; region?: string }, page?: { after?: CapacityKey; limit: number }): Promise<CapacityRow[]> {
    const afterClass = page?.after?.modelClass ?? null;
    const afterRegion = page?.after?.region ?? null;
    return this.prisma.$queryRaw<CapacityRow[]>`
      SELECT m."modelClass", n.region, count(*)::int AS "onlineNodes", sum(m."tokensPerSecond")::bigint AS "tokensPerSecond"
      FROM nodes n JOIN node_models m ON m."nodeId" = n.id
      WHERE n.status = 'ONLINE'
        AND (${filter.modelClass ?? null}::text IS NULL OR m."modelClass" = ${filter.modelClass ?? null}::text)
        AND (${filter.region ?? null}::text IS NULL OR n.region = ${filter.region ?? null}::text)
        AND (${afterClass}::text IS NULL OR (m."modelClass", n.region) > (${afterClass}::text, ${afterRegion}::text))
      GROUP BY m."modelClass", n.region
      ORDER BY m."modelClass", n.region
      LIMIT ${page ? page.limit + 1 : null}::int`;
  }

  /** Tokens/s of each operator's non-OFFLINE nodes serving a model class (0 for none), in one statement. */
  async operatorsTokensPerSecond(operatorIds: string[], modelClass: string, regions?: readonly string[]): Promise<Map<string, bigint>> {
    const rows = await this.prisma.$queryRaw<{ operatorId: string; tps: bigint }[]>`
      SELECT n."operatorId", sum(m."tokensPerSecond")::bigint AS tps
      FROM nodes n JOIN node_models m ON m."nodeId" = n.id
      WHERE n."operatorId" = ANY(${operatorIds}::uuid[]) AND n.status <> 'OFFLINE' AND m."modelClass" = ${modelClass}
        AND (${regions ? [...regions] : null}::text[] IS NULL OR n.region = ANY(${regions ? [...regions] : null}::text[]))
      GROUP BY n."operatorId"`;
    const byOperator = new Map(rows.map((r) => [r.operatorId, r.tps]));
    return new Map(operatorIds.map((id) => [id, byOperator.get(id) ?? 0n]));
  }
}
