import { expect } from 'vitest';
import type { TestMember } from './factories.js';

export interface TestNode {
  id: string;
  nodeToken: string;
  dataCenterId: string;
}

export async function createDataCenter(
  op: TestMember,
  region = 'cn-east-1',
  name = `dc-${Math.random().toString(36).slice(2, 8)}`,
): Promise<string> {
  const res = await op.client.post<{ id: string }>('/v1/datacenters', { name, region });
  expect(res.status, res.text).toBe(201);
  return res.body.id;
}

export async function createNode(
  op: TestMember,
  dataCenterId: string,
  models: { modelClass: string; tokensPerSecond: number }[] = [{ modelClass: 'llm-70b-instruct', tokensPerSecond: 1000 }],
): Promise<TestNode> {
  const res = await op.client.post<{ id: string; nodeToken: string }>('/v1/nodes', { dataCenterId, gpuModel: 'H800', gpuCount: 8, models });
  expect(res.status, res.text).toBe(201);
  return { id: res.body.id, nodeToken: res.body.nodeToken, dataCenterId };
}
