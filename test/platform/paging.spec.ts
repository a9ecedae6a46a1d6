import { routes } from '../harness/routes.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, type TestMember } from '../harness/factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

/** Every GET route Nest registered (derived, so a new list endpoint is checked without listing it here). */
const getRoutes = (t: TestApp) =>
  routes(t)
    .filter((r) => r.method === 'GET')
    .map((r) => r.path);

/**
 * Issue 19: every list endpoint pages with the shared cursor helper — `limit` ≤ 500 (above: 400),
 * a page never holds more than `limit` rows, and `nextCursor` is part of every list answer. The
 * per-domain specs (test/*\/pagination.spec.ts) follow cursors over real rows; this one makes sure
 * no list route escapes them.
 */
describe('every list endpoint is paged', () => {
  let t: TestApp;
  let op: TestMember;

  beforeAll(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'fatal' } });
    op = await createMember(t, 'OPERATOR');
  });
  afterAll(() => t.close());

  it('each GET route that answers a list honours limit, refuses limit=501 and answers nextCursor', async () => {
    const lists: string[] = [];
    const problems: string[] = [];
    for (const route of getRoutes(t)) {
      if (route.startsWith('/health') || route === '/metrics' || route.startsWith('/admin')) continue;
      // Member-scoped routes take a member id, index routes an index code; others with
      // parameters are single resources.
      const path = route.replace(/:id\b/, op.id).replace(/:code\b/, route.startsWith('/v1/indices') ? 'TTI-70B' : ':code');
      if (path.includes(':')) continue;
      const sep = path.includes('?') ? '&' : '?';
      const one = await t.clearing.get<{ items?: unknown[]; nextCursor?: unknown }>(`${path}${sep}limit=1`);
      if (one.status !== 200 || !Array.isArray(one.body?.items)) continue;
      lists.push(route);
      if (one.body.items.length > 1) problems.push(`${route}: limit=1 answered ${one.body.items.length} rows`);
      if (!('nextCursor' in one.body)) problems.push(`${route}: no nextCursor`);
      const tooMany = await t.clearing.get<{ code?: string }>(`${path}${sep}limit=501`);
      if (tooMany.status !== 400 || tooMany.body.code !== 'VALIDATION_FAILED')
        problems.push(`${route}: limit=501 answered ${tooMany.status}`);
      const atMost = await t.clearing.get(`${path}${sep}limit=500`);
      if (atMost.status !== 200) problems.push(`${route}: limit=500 answered ${atMost.status}`);
    }
    expect(problems).toEqual([]);
    // The check ran over the lists it must cover (a route table change that hid them would pass silently).
    expect(lists).toEqual(
      expect.arrayContaining([
        '/v1/members',
        '/v1/members/:id/api-keys',
        '/v1/products',
        '/v1/series',
        '/v1/positions',
        '/v1/orders',
        '/v1/trades',
        '/v1/nodes',
        '/v1/datacenters',
        '/v1/capacity',
        '/v1/margin-calls',
        '/v1/settlement/runs',
        '/v1/adjustments',
        '/v1/reconciliation/breaks',
        '/v1/audit-events',
        '/v1/obligations',
        '/v1/delivery/jobs',
        '/v1/withdrawals',
        '/v1/members/:id/transfers',
        '/v1/staff',
        '/v1/indices/:code/fixings',
        '/v1/members/:id/bank-accounts',
        '/v1/reports/large-traders',
      ]),
    );
  });
});
