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

let accountSeq = 0;

/**
 * Gives the member a verified bank account the way production does: the member proposes it, a
 * clearing person verifies it. Members can only withdraw to one (409 NO_VERIFIED_BANK_ACCOUNT).
 */
export async function verifiedBankAccount(
  t: TestApp,
  m: TestMember,
  account: { bankCode?: string; accountNumber?: string; holderName?: string } = {},
): Promise<{ id: string; bankCode: string; accountNumber: string; holderName: string }> {
  const body = {
    bankCode: account.bankCode ?? '105100000017',
    accountNumber: account.accountNumber ?? `6222${String(Date.now() % 1e9).padStart(9, '0')}${String(++accountSeq).padStart(6, '0')}`,
    holderName: account.holderName ?? `Holder ${m.id.slice(0, 8)}`,
  };
  const proposed = await m.client.post<{ id: string }>(`/v1/members/${m.id}/bank-accounts`, body);
  expect(proposed.status, proposed.text).toBe(201);
  const verified = await t.clearing.post(`/v1/bank-accounts/${proposed.body.id}/approve`, {});
  expect(verified.status, verified.text).toBe(200);
  return { id: proposed.body.id, ...body };
}
