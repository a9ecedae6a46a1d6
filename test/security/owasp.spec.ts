import { routes, type Route } from '../harness/routes.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../src/platform/time/clock.js';
import { createDataCenter } from '../harness/capacity-factories.js';
import { expire, physicalMarket, submitJob, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import { expectProblem, verifiedBankAccount, type TestMember } from '../harness/factories.js';
import { createProduct, createSeries, order } from '../harness/market-factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

/**
 * The OWASP API Security Top 10 (2023) against the real app; README "Security" maps each risk to
 * this file and the other specs that cover it. Routes are derived from what Nest registered, so a
 * new route is checked without being named here.
 */

const SECRET = /(tck|tcn|whsec)_[A-Za-z0-9_-]{16,}/;

describe('OWASP API Security Top 10 (2023)', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  let table: Route[];
  /** Two members of each role: A (index 0) owns the resources, B (index 1) attacks them. */
  let members: { role: string; member: TestMember; nodeToken?: string }[];
  /** A's resources: id → the members allowed to see it. */
  const owned = new Map<string, { kind: string; visibleTo: Set<string> }>();
  let today: string;

  beforeAll(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'fatal', WEBHOOK_ALLOW_HOSTS: 'vm' } });
    m = await physicalMarket(t, {
      operators: 2,
      nodesPerOperator: 1,
      buyers: 2,
      traders: 2,
      trades: [
        { seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 },
        { seller: ['op', 1], buyer: ['buyer', 1], quantity: 1 },
      ],
    });
    await expire(t, m);
    today = t.app.get(Clock).businessDate();
    members = [
      ...m.operators.map((o) => ({ role: 'operator', member: o.member, nodeToken: o.nodes[0].nodeToken })),
      ...m.buyers.map((b) => ({ role: 'buyer', member: b })),
      ...m.traders.map((tr) => ({ role: 'trader', member: tr })),
    ];
    const [opA, buyerA, traderA] = [m.operators[0], m.buyers[0], m.traders[0]];
    for (const { member } of members.filter((_, i) => i % 2 === 0)) {
      owned.set(member.id, { kind: 'member', visibleTo: new Set([member.id]) });
      owned.set(member.keyId, { kind: 'api-key', visibleTo: new Set([member.id]) });
    }
    owned.set(opA.nodes[0].id, { kind: 'node', visibleTo: new Set([opA.member.id]) });
    owned.set(await createDataCenter(opA.member, 'cn-east-1', 'bola-dc'), { kind: 'data-center', visibleTo: new Set([opA.member.id]) });
    const job = await submitJob(buyerA, m.series, 10, 'bola', { callbackUrl: 'http://vm:9/hook' });
    expect(job.status, job.text).toBe(201);
    // The operator that delivers it (allocation decides which short serves the buyer) sees it too.
    const { sellerId } = await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: job.body.id } });
    owned.set(job.body.id, { kind: 'delivery-job', visibleTo: new Set([buyerA.id, sellerId]) });
    owned.set(job.body.obligationId, { kind: 'obligation', visibleTo: new Set([buyerA.id, sellerId]) });
    const bankAccount = await verifiedBankAccount(t, buyerA);
    owned.set(bankAccount.id, { kind: 'bank-account', visibleTo: new Set([buyerA.id]) });
    const w = await buyerA.client.post<{ id: string }>(`/v1/members/${buyerA.id}/withdrawals`, { amount: '1.00', currency: 'CNY' });
    expect(w.status, w.text).toBe(201);
    owned.set(w.body.id, { kind: 'withdrawal', visibleTo: new Set([buyerA.id]) });
    const cash = await createSeries(t, await createProduct(t));
    const o = await order(traderA, cash, 'BUY', '1.00', 1);
    expect(o.status, o.text).toBe(201);
    owned.set(o.body.id, { kind: 'order', visibleTo: new Set([traderA.id]) });
    table = routes(t);
  }, 120_000);
  afterAll(() => t.close());

  const fill = (path: string, id: string) => path.replace(/:businessDate/g, today).replace(/:[A-Za-z]+/g, id);
  const withoutInstance = (text: string) => text.replace(/"instance":"[^"]*"/g, '');

  it('API1 broken object level authorization: on every :id route, no member of any role reaches another member’s resource', async () => {
    const idRoutes = table.filter((r) => /:id\b/.test(r.path));
    expect(idRoutes.length).toBeGreaterThan(25);
    const problems: string[] = [];
    for (const r of idRoutes) {
      for (const [id, res] of owned) {
        for (const attacker of members) {
          if (res.visibleTo.has(attacker.member.id)) continue;
          // Node routes take the attacker's own node token; the others its API key.
          const credential = r.public && r.ownGuard ? attacker.nodeToken : attacker.member.key;
          if (!credential) continue;
          const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : {};
          const answer = await t.client(credential).request(r.method, fill(r.path, id), body);
          const where = `${r.method} ${r.path} on ${res.kind} of A as ${attacker.role} → ${answer.status}`;
          if (answer.status < 300) problems.push(where);
          if (answer.status < 500 && withoutInstance(answer.text).includes(id)) problems.push(`${where}: the answer names it`);
          if (answer.status >= 500) problems.push(`${where}: ${answer.text.slice(0, 200)}`);
        }
      }
    }
    expect(problems).toEqual([]);
    // Nothing changed hands: A's order is still open, its withdrawal pending, its key alive.
    const [orderId] = [...owned].find(([, r]) => r.kind === 'order')!;
    expect((await t.prisma.order.findUniqueOrThrow({ where: { id: orderId } })).status).toBe('OPEN');
    expect(await t.prisma.apiKey.count({ where: { id: { in: members.map((x) => x.member.keyId) }, revokedAt: { not: null } } })).toBe(0);
  }, 300_000);

  it('API2 broken authentication: unknown, malformed and revoked keys and node tokens on member routes answer 401', async () => {
    for (const key of ['tck_unknown0000000000000000000000', 'x', m.operators[0].nodes[0].nodeToken])
      expectProblem(await t.client(key).get('/v1/me'), 401, 'UNAUTHENTICATED');
    const extra = await t.clearing.post<{ id: string; key: string }>(`/v1/members/${m.buyers[1].id}/api-keys`, { role: 'buyer' });
    expect((await t.client(extra.body.key).delete(`/v1/api-keys/${extra.body.id}`)).status).toBe(200);
    expectProblem(await t.client(extra.body.key).get('/v1/me'), 401, 'API_KEY_REVOKED');
    // A member key on a node route is not a node token.
    expectProblem(
      await m.operators[0].member.client.post(`/v1/nodes/${m.operators[0].nodes[0].id}/heartbeat`, {}),
      401,
      'NODE_TOKEN_INVALID',
    );
  });

  it('API3 excessive data exposure: no GET answer, for any role, carries a key or token hash, a secret, or another member’s id', async () => {
    const hashes = [
      ...(await t.prisma.apiKey.findMany({ select: { hash: true } })).map((k) => k.hash),
      ...(await t.prisma.node.findMany({ select: { tokenHash: true } })).map((n) => n.tokenHash),
    ];
    const memberIds = members.map((x) => x.member.id);
    pairs = (await t.prisma.deliveryObligation.findMany({ select: { buyerId: true, sellerId: true } })).map((o) => [o.buyerId, o.sellerId]);
    const problems: string[] = [];
    const gets = table.filter((r) => r.method === 'GET' && !r.path.startsWith('/docs') && !r.ownGuard);
    const callers = [
      ...members.map((x) => ({ role: x.role, id: x.member.id as string | null, key: x.member.key })),
      { role: 'clearing', id: null, key: t.clearingKey },
    ];
    for (const caller of callers) {
      // Its own resources: every :id of the caller, its member id first.
      const ownIds = [
        caller.id ?? m.buyers[0].id,
        ...[...owned].filter(([, r]) => caller.id && r.visibleTo.has(caller.id)).map(([id]) => id),
      ];
      for (const r of gets) {
        for (const id of /:[A-Za-z]/.test(r.path) ? ownIds : ['-']) {
          const answer = await t.client(caller.key).get(fill(r.path.replace(':code', m.series), id));
          if (answer.status >= 300) continue;
          const text = answer.text;
          const where = `GET ${r.path} as ${caller.role}`;
          if (SECRET.test(text)) problems.push(`${where}: a secret in clear`);
          for (const h of hashes) if (text.includes(h)) problems.push(`${where}: a key/token hash`);
          if (caller.id)
            for (const other of memberIds)
              if (other !== caller.id && text.includes(other) && !counterpartyAllowed(r.path, caller.id, other))
                problems.push(`${where}: names member ${other}`);
        }
      }
    }
    expect([...new Set(problems)]).toEqual([]);
  }, 120_000);

  /**
   * Where a member legitimately sees another's id: a delivery obligation names its buyer and its
   * seller (the operator must know whom it serves, the buyer who delivers).
   */
  let pairs: string[][] = [];
  const counterpartyAllowed = (path: string, caller: string, other: string): boolean => {
    const related = pairs.some(([a, b]) => (a === caller && b === other) || (b === caller && a === other));
    return related && /obligations|delivery\/jobs|nodes/.test(path);
  };

  describe('API6 mass assignment: read-only and unknown fields are refused 400 naming the field, nothing written', () => {
    const cases: [string, string, () => Record<string, unknown>, () => string][] = [
      ['POST', '/v1/members', () => ({ name: 'mass-assign', kind: 'BUYER' }), () => t.clearingKey],
      ['PATCH', '/v1/members/:id', () => ({ status: 'ACTIVE' }), () => t.clearingKey],
      ['POST', '/v1/members/:id/api-keys', () => ({ role: 'buyer' }), () => t.clearingKey],
      ['POST', '/v1/members/:id/withdrawals', () => ({ amount: '1.00', currency: 'CNY' }), () => m.buyers[0].key],
      ['POST', '/v1/members/:id/deposits', () => ({ amount: '1.00', currency: 'CNY', reference: 'MASS-1' }), () => t.clearingKey],
      [
        'POST',
        '/v1/orders',
        () => ({ series: m.series, side: 'BUY', price: '1.00', quantity: 1, timeInForce: 'GTC' }),
        () => m.traders[0].key,
      ],
      [
        'POST',
        '/v1/delivery/jobs',
        () => ({ series: m.series, modelClass: 'llm-70b-instruct', messages: [{ role: 'user', content: 'x' }], maxTokens: 1 }),
        () => m.buyers[0].key,
      ],
      ['POST', '/v1/datacenters', () => ({ name: 'mass-dc', region: 'cn-east-1' }), () => m.operators[0].member.key],
      ['POST', '/v1/staff', () => ({ name: 'Mass Assign' }), () => t.clearingKey],
    ];
    for (const [method, path, body, key] of cases) {
      for (const field of ['id', 'status', 'memberId', 'createdAt', 'isAdmin']) {
        it(`${method} ${path} with ${field}`, async () => {
          const base = body();
          if (field in base) return; // a field this route takes (PATCH /v1/members/:id sets status)
          const target = path === '/v1/members/:id/withdrawals' ? m.buyers[0].id : m.buyers[1].id;
          const before = await fingerprint(t);
          const res = await t
            .client(key())
            .request(method, path.replace(':id', target), { ...base, [field]: field === 'createdAt' ? '2020-01-01T00:00:00Z' : 'x' });
          expectProblem(res, 400, 'VALIDATION_FAILED');
          expect((res.body as { errors: { field: string }[] }).errors.map((e) => e.field)).toContain(field);
          expect(await fingerprint(t)).toBe(before);
        });
      }
    }
  });

  it('injection strings in every string field of the main bodies: never a 5xx; when refused nothing changes', async () => {
    const payloads = [
      "' OR 1=1; DROP TABLE members; --",
      '<script>alert(1)</script>',
      '{{7*7}}${7*7}<%= 7*7 %>',
      '../../../../etc/passwd',
      'a\u0000b',
      '\u202e\ud800\udfff😀'.repeat(2_000),
      '𝕏'.repeat(40_000),
    ];
    const bodies: [string, string, Record<string, unknown>, string][] = [
      ['POST', '/v1/members', { name: 'n', kind: 'BUYER' }, t.clearingKey],
      ['POST', `/v1/members/${m.buyers[1].id}/deposits`, { amount: '1.00', currency: 'CNY', reference: 'INJ-1' }, t.clearingKey],
      [
        'POST',
        '/v1/orders',
        { series: m.series, side: 'BUY', price: '1.00', quantity: 1, timeInForce: 'IOC', clientOrderId: 'c' },
        m.traders[1].key,
      ],
      [
        'POST',
        '/v1/delivery/jobs',
        {
          series: m.series,
          modelClass: 'llm-70b-instruct',
          messages: [{ role: 'user', content: 'x' }],
          maxTokens: 1,
          region: 'cn-east-1',
          callbackUrl: 'https://hooks.example.com/x',
        },
        m.buyers[1].key,
      ],
      ['POST', '/v1/datacenters', { name: 'dc', region: 'cn-east-1' }, m.operators[1].member.key],
      ['POST', '/v1/staff', { name: 'Staff Name' }, t.clearingKey],
      [
        'POST',
        '/v1/adjustments',
        {
          debitAccount: `member:${m.traders[1].id}:cash`,
          creditAccount: `member:${m.buyers[1].id}:cash`,
          amount: '1.00',
          currency: 'CNY',
          reason: 'r',
        },
        t.clearingKey,
      ],
    ];
    const problems: string[] = [];
    for (const [method, path, body, key] of bodies) {
      const strings = stringPaths(body);
      for (const at of strings) {
        for (const p of payloads) {
          const before = await fingerprint(t);
          const res = await t.client(key).request(method, path, setAt(body, at, p));
          const where = `${method} ${path} ${at.join('.')}=${JSON.stringify(p.slice(0, 30))} → ${res.status}`;
          if (res.status >= 500) problems.push(`${where}: ${res.text.slice(0, 200)}`);
          if (res.status >= 400 && (await fingerprint(t)) !== before) problems.push(`${where}: refused but state changed`);
          if (res.status >= 400 && !/application\/problem\+json/.test(res.headers.get('content-type') ?? ''))
            problems.push(`${where}: not problem+json`);
        }
      }
    }
    expect(problems).toEqual([]);
    // What was accepted was stored as given, not interpreted: the script tag is text.
    const named = await t.prisma.member.findMany({ where: { name: { contains: '<script>' } } });
    for (const n of named) expect(n.name).toBe('<script>alert(1)</script>');
  }, 300_000);

  it('API8 security misconfiguration: no x-powered-by, problem+json errors without stack traces', async () => {
    const res = await fetch(`${t.baseUrl}/v1/nope`);
    expect(res.headers.get('x-powered-by')).toBeNull();
    const text = await res.text();
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(text).not.toMatch(/\bat .*\.(js|ts):\d+/);
  });

  it('API9 improper inventory: the OpenAPI document lists every route Nest serves', async () => {
    const doc = (await t.client().get<{ paths: Record<string, Record<string, unknown>> }>('/openapi.json')).body;
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([p, item]) =>
        Object.keys(item).map((verb) => `${verb.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`),
      ),
    );
    const missing = table.filter((r) => !documented.has(`${r.method} ${r.path}`)).map((r) => `${r.method} ${r.path}`);
    // Prometheus' scrape target, not part of the member API (text exposition format).
    expect(missing).toEqual(['GET /metrics']);
  });
});

async function fingerprint(t: TestApp): Promise<string> {
  const [row] = await t.prisma.$queryRaw<{ f: string }[]>`SELECT concat_ws(',',
    (SELECT count(*) FROM members), (SELECT count(*) FROM api_keys), (SELECT count(*) FROM transfers),
    (SELECT COALESCE(sum(abs("balanceFen")), 0) FROM ledger_accounts), (SELECT count(*) FROM orders),
    (SELECT count(*) FROM data_centers), (SELECT count(*) FROM nodes), (SELECT count(*) FROM withdrawals),
    (SELECT count(*) FROM delivery_jobs), (SELECT count(*) FROM adjustments), (SELECT count(*) FROM staff),
    (SELECT count(*) FROM withdrawals WHERE status <> 'PENDING'), (SELECT count(*) FROM orders WHERE status <> 'OPEN')) AS f`;
  return row.f;
}

/** Paths to every string value of a body. */
function stringPaths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (typeof v === 'string') return [at];
  if (Array.isArray(v)) return v.flatMap((x, i) => stringPaths(x, [...at, i]));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => stringPaths(x, [...at, k]));
  return [];
}

function setAt(body: Record<string, unknown>, at: (string | number)[], value: string): Record<string, unknown> {
  const copy = structuredClone(body);
  let node = copy as Record<string | number, unknown>;
  for (const k of at.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  node[at.at(-1)!] = value;
  return copy;
}
