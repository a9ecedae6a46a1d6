import { BootstrapService } from '../../src/staff/bootstrap.service.js';
import { expect } from 'vitest';
import type { ApiClient } from './http.js';
import type { TestApp } from './test-app.js';

export type Kind = 'OPERATOR' | 'BUYER' | 'TRADER';
const ROLE: Record<Kind, string> = { OPERATOR: 'operator', BUYER: 'buyer', TRADER: 'trader' };

export interface TestMember {
  id: string;
  key: string;
  keyId: string;
  client: ApiClient;
}

let seq = 0;

/** A member created through the API, with a key of the matching role. */
export async function createMember(t: TestApp, kind: Kind, name = `${kind.toLowerCase()}-${++seq}`): Promise<TestMember> {
  const member = await t.clearing.post<{ id: string }>('/v1/members', { name, kind });
  expect(member.status, member.text).toBe(201);
  const key = await t.clearing.post<{ id: string; key: string }>(`/v1/members/${member.body.id}/api-keys`, { role: ROLE[kind] });
  expect(key.status, key.text).toBe(201);
  return { id: member.body.id, key: key.body.key, keyId: key.body.id, client: t.client(key.body.key) };
}

/**
 * Another person of the clearing house's staff, with a first clearing key: added the way the first
 * team is (`cli staff add`, database access), so four-eyes tests have a second pair of eyes.
 */
export async function createClearingUser(t: TestApp, name = `staff-${++seq}`): Promise<TestMember & { staffId: string }> {
  const added = await t.app.get(BootstrapService).addStaff(name, `test-${seq}`);
  return { id: added.clearingMemberId, key: added.key, keyId: added.keyId, staffId: added.staffId, client: t.client(added.key) };
}

export function expectProblem(res: { status: number; headers: Headers; body: unknown; text: string }, status: number, code: string): void {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
}
