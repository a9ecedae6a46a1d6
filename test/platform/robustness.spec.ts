import { routes } from '../harness/routes.js';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, type TestMember } from '../harness/factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

const ROLES = ['operator', 'buyer', 'trader', 'clearing'] as const;

const fill = (path: string, value: () => string) => path.replace(/:[A-Za-z]+/g, () => encodeURIComponent(value()));

describe('API robustness', () => {
  let t: TestApp;
  const keys: Record<string, string> = {};
  let members: Record<string, TestMember>;

  const fingerprint = async () =>
    (
      await t.prisma.$queryRaw<{ f: string }[]>`SELECT concat_ws(',',
        (SELECT count(*) FROM members), (SELECT count(*) FROM api_keys WHERE "revokedAt" IS NULL), (SELECT count(*) FROM transfers),
        (SELECT COALESCE(sum(abs("balanceFen")), 0) FROM ledger_accounts), (SELECT count(*) FROM orders), (SELECT count(*) FROM trades),
        (SELECT count(*) FROM products), (SELECT count(*) FROM series), (SELECT count(*) FROM data_centers), (SELECT count(*) FROM nodes),
        (SELECT count(*) FROM withdrawals), (SELECT count(*) FROM delivery_jobs), (SELECT count(*) FROM adjustments),
        (SELECT count(*) FROM settlement_runs), (SELECT count(*) FROM index_fixings), (SELECT count(*) FROM settlement_prices),
        (SELECT count(*) FROM bank_statements), (SELECT count(*) FROM breaks WHERE status = 'RESOLVED'), (SELECT count(*) FROM token_index_fixings)) AS f`
    )[0].f;

  beforeAll(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'fatal' } });
    members = {
      operator: await createMember(t, 'OPERATOR'),
      buyer: await createMember(t, 'BUYER'),
      trader: await createMember(t, 'TRADER'),
    };
    for (const r of ['operator', 'buyer', 'trader'] as const) keys[r] = members[r].key;
    keys.clearing = t.clearingKey;
  });
  afterAll(() => t.close());

  it('guards every route: no key → 401, a role the route does not allow → 403, node routes want a node token', async () => {
    const table = routes(t);
    expect(table.length).toBeGreaterThan(60);
    const problems: string[] = [];
    let nodeRoutes = 0;
    for (const r of table) {
      const path = fill(r.path, () => randomUUID());
      const anonymous = await t.client().request(r.method, path, r.method === 'GET' || r.method === 'DELETE' ? undefined : {});
      if (r.public && r.ownGuard) {
        nodeRoutes++;
        const wrong = await t.client(keys.clearing).request(r.method, path, r.method === 'GET' ? undefined : {});
        for (const res of [anonymous, wrong])
          if (res.status !== 401 || (res.body as { code?: string }).code !== 'NODE_TOKEN_INVALID')
            problems.push(`${r.method} ${r.path} without a node token answered ${res.status}`);
        continue;
      }
      if (r.public) {
        if (anonymous.status >= 500) problems.push(`${r.method} ${r.path} (public) answered ${anonymous.status}`);
        continue;
      }
      if (anonymous.status !== 401) problems.push(`${r.method} ${r.path} without a key answered ${anonymous.status}`);
      for (const role of ROLES) {
        if (!r.roles || r.roles.includes(role)) continue;
        const res = await t.client(keys[role]).request(r.method, path, r.method === 'GET' || r.method === 'DELETE' ? undefined : {});
        if (res.status !== 403 || (res.body as { code?: string }).code !== 'FORBIDDEN_ROLE')
          problems.push(`${r.method} ${r.path} as ${role} answered ${res.status}`);
      }
    }
    expect(problems).toEqual([]);
    expect(nodeRoutes).toBe(5); // heartbeat, lease, completions, complete, fail
  }, 120_000);

  it("members never reach each other: another member's resources answer 404", async () => {
    const { buyer, trader } = members;
    const paths = [
      `/v1/members/${buyer.id}`,
      `/v1/members/${buyer.id}/balances`,
      `/v1/members/${buyer.id}/transfers`,
      `/v1/members/${buyer.id}/statements/2026-12-01`,
    ];
    for (const p of paths) {
      expect((await trader.client.get(p)).status, p).toBe(404);
      expect((await buyer.client.get(p)).status, p).toBe(200);
    }
    expect((await trader.client.post(`/v1/members/${buyer.id}/withdrawals`, { amount: '1.00', currency: 'CNY' })).status).toBe(404);
  });

  it('fuzzed paths, queries, headers and bodies from the OpenAPI document: never a 5xx, always problem+json, nothing changes when refused', async () => {
    const doc = (await t.client().get<{ paths: Record<string, Record<string, unknown>> }>('/openapi.json')).body;
    const ops = Object.entries(doc.paths).flatMap(([path, item]) =>
      ['get', 'post', 'patch', 'delete']
        .filter((m) => m in item)
        .map((m) => ({ path: path.replace(/\{(\w+)\}/g, ':$1'), method: m.toUpperCase() })),
    );
    expect(ops.length).toBeGreaterThan(60);
    const idArb = fc.oneof(
      fc.uuid(),
      fc.constantFrom('x', '..%2F..%2Fetc', '%00', 'a'.repeat(300), '😀', '-1', '1e309', 'null'),
      fc.string({ maxLength: 40 }),
    );
    const bodyArb = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.dictionary(
        fc.constantFrom(
          'amount',
          'currency',
          'price',
          'quantity',
          'series',
          'side',
          'type',
          'kind',
          'name',
          'role',
          'maxTokens',
          'messages',
          'leaseToken',
          'usage',
          'payloadHash',
          'businessDate',
          'region',
          'models',
        ),
        fc.jsonValue({ maxDepth: 2 }),
      ),
    );
    const queryArb = fc.dictionary(
      fc.constantFrom('limit', 'cursor', 'status', 'series', 'format', 'businessDate', 'type', 'levels', 'minAgeHours', 'from'),
      fc.string({ maxLength: 20 }),
      { maxKeys: 3 },
    );
    const caseArb = fc.record({
      id: idArb,
      body: bodyArb,
      query: queryArb,
      raw: fc.constantFrom('', '{"a":', '[1,2', 'null', '"str"', '{"amount": 1e400}'),
      contentType: fc.constantFrom('application/json', 'text/plain', 'application/xml', 'application/json; charset=utf-16'),
      idem: fc.option(fc.string({ maxLength: 300 })),
    });
    const cases = fc.sample(caseArb, { numRuns: 4 * ops.length, seed: 20261125 });
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let i = 0;
    for (const op of ops) {
      for (const role of [undefined, 'trader', 'clearing'] as const) {
        for (let n = 0; n < 4; n++) {
          const c = cases[i++ % cases.length];
          const path = fill(op.path, () => c.id) + (Object.keys(c.query).length ? `?${new URLSearchParams(c.query)}` : '');
          const before = await fingerprint();
          const headers: Record<string, string> = { 'content-type': c.contentType };
          if (c.idem !== null) headers['idempotency-key'] = c.idem;
          const body = op.method === 'GET' || op.method === 'DELETE' ? undefined : n % 2 === 0 ? JSON.stringify(c.body) : c.raw;
          const res = await t.client(role ? keys[role] : undefined).request(op.method, path, body, headers);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          const where = `${op.method} ${path.slice(0, 120)} as ${role ?? 'anonymous'} → ${res.status}`;
          if (res.status >= 500) failures.push(`${where}: ${res.text.slice(0, 200)}`);
          else if (res.status >= 400) {
            if (
              !/application\/problem\+json/.test(res.headers.get('content-type') ?? '') ||
              typeof (res.body as { code?: unknown })?.code !== 'string'
            )
              failures.push(`${where}: not problem+json`);
            if ((await fingerprint()) !== before) failures.push(`${where}: state changed although refused`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
    // The fuzz reached past authentication and validation into the handlers, not just the guard.
    expect(statuses.get(401) ?? 0).toBeGreaterThan(0);
    expect([...statuses.keys()].some((s) => s === 400 || s === 422)).toBe(true);
    expect(statuses.get(404) ?? 0).toBeGreaterThan(0);
  }, 300_000);
});
