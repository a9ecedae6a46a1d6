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

/** A second clearing key on the clearing member: a distinct person for maker-checker. */
export async function createClearingUser(t: TestApp): Promise<TestMember> {
  const key = await t.clearing.post<{ id: string; key: string }>(`/v1/members/${t.clearingMemberId}/api-keys`, {
    role: 'clearing',
    label: `clearing-${++seq}`,
  });
  expect(key.status, key.text).toBe(201);
  return { id: t.clearingMemberId, key: key.body.key, keyId: key.body.id, client: t.client(key.body.key) };
}

export function expectProblem(res: { status: number; headers: Headers; body: unknown; text: string }, status: number, code: string): void {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
}
