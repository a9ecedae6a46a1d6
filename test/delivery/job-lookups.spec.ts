import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobBatchRepository } from '../../src/delivery/job-batch.repository.js';
import { VerificationRepository } from '../../src/delivery/verification.repository.js';
import { SqlTx } from '../../src/platform/prisma/sql-tx.js';
import { expire, physicalMarket, submitJob, waitFor, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

/** Every index an EXPLAIN (FORMAT JSON) plan reads, and whether it scans a table whole. */
function accessPaths(plan: unknown, out = { indexes: new Set<string>(), seqScans: 0 }) {
  if (Array.isArray(plan)) plan.forEach((p) => accessPaths(p, out));
  else if (plan && typeof plan === 'object') {
    const node = plan as Record<string, unknown>;
    if (typeof node['Index Name'] === 'string') out.indexes.add(node['Index Name']);
    if (node['Node Type'] === 'Seq Scan') out.seqScans++;
    Object.values(node).forEach((v) => accessPaths(v, out));
  }
  return out;
}

/**
 * The hot updates of delivery jobs (dispatch, claim) find their rows by id whatever the
 * statistics say. In production most jobs are finished, so the planner believes a node has
 * next to no DISPATCHED jobs and, offered `status = … AND "nodeId" = …`, scans that index — in a
 * burst, thousands of rows compared with every claimed id (it cost 30 ms a claim in the bench).
 */
describe('job lookups by id', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  let pool: pg.Pool;
  const plans: { text: string; plan: unknown }[] = [];
  const repo = new JobBatchRepository();

  beforeAll(async () => {
    // No reaper re-drive of the synthetic jobs while the test runs.
    t = await startTestApp({ env: { DELIVERY_STALE_MS: '3600000' } });
    m = await physicalMarket(t, {
      operators: 1,
      nodesPerOperator: 1,
      buyers: 1,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
    });
    await expire(t, m);
    const sub = await submitJob(m.buyers[0], m.series, 10, 'template');
    expect(sub.status, sub.text).toBe(201);
    const template = sub.body.id;
    await waitFor(
      'the template job dispatched',
      async () => (await t.prisma.deliveryJob.findUniqueOrThrow({ where: { id: template } })).status === 'DISPATCHED',
    );
    // The statistics of a busy day: 20,000 finished jobs, analyzed; then a burst the statistics
    // have not seen — 1,500 jobs DISPATCHED to one node and 1,500 QUEUED.
    const copies = (n: number, status: string) =>
      t.prisma.$executeRawUnsafe(
        `INSERT INTO delivery_jobs (id, "buyerId", "seriesId", "obligationId", "sellerId", "modelClass", region, messages, "maxTokens", "reservedTokens", decisions, status, "nodeId")
         SELECT gen_random_uuid(), "buyerId", "seriesId", "obligationId", "sellerId", "modelClass", region, messages, "maxTokens", 0, '[]', '${status}', "nodeId"
         FROM delivery_jobs, generate_series(1, ${n}) WHERE id = '${template}'`,
      );
    await t.prisma.$executeRawUnsafe('ALTER TABLE delivery_jobs SET (autovacuum_enabled = false)');
    await copies(20_000, 'COMPLETED');
    await t.prisma.$executeRawUnsafe('ANALYZE delivery_jobs');
    await copies(1_500, 'DISPATCHED');
    await copies(1_500, 'QUEUED');

    // A connection that sends each statement's plan back as a notice (auto_explain).
    pool = new pg.Pool({ connectionString: t.config.databaseUrl, max: 1 });
    const client = await pool.connect();
    client.on('notice', (n) => {
      const json = n.message?.slice(n.message.indexOf('{')) ?? '';
      const parsed = JSON.parse(json) as { 'Query Text': string; Plan: unknown };
      plans.push({ text: parsed['Query Text'], plan: parsed.Plan });
    });
    await client.query(
      "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_level = 'notice'; SET auto_explain.log_format = 'json'",
    );
    client.release();
  });
  afterAll(async () => {
    await pool?.end();
    await t.close();
  });

  const planOf = (marker: string) => {
    const found = plans.filter((p) => p.text.includes(marker));
    expect(found.length, `a plan for ${marker}`).toBeGreaterThan(0);
    return accessPaths(found.at(-1)!.plan);
  };

  it('a claim reads the claimed jobs through the primary key, not the (nodeId, status) index', async () => {
    const nodeId = m.operators[0].nodes[0].id;
    const ids = (await t.prisma.deliveryJob.findMany({ where: { status: 'DISPATCHED', nodeId }, select: { id: true }, take: 64 })).map(
      (j) => j.id,
    );
    const claimed = await repo.claim(
      new SqlTx(pool),
      nodeId,
      30_000,
      ids.map((id) => ({ id, attempt: 0, token: 'lookup-test' })),
    );
    expect(claimed).toHaveLength(64);
    const paths = planOf(`SET status = 'LEASED'`);
    expect([...paths.indexes]).toEqual(['delivery_jobs_pkey']);
    expect(paths.seqScans).toBe(0);
  });

  it("whether an entry still leases a job reads the leased jobs' token index, not every LEASED job", async () => {
    // 64 jobs leased under 'lookup-test' by the claim above, among 1,500 and more jobs of the node.
    const open = await repo.openLeases(new SqlTx(pool), ['lookup-test', 'no-such-lease']);
    expect([...open]).toEqual(['lookup-test']);
    const paths = planOf(`SELECT DISTINCT "leaseToken"`);
    expect([...paths.indexes]).toEqual(['delivery_jobs_leased_token_idx']);
    expect(paths.seqScans).toBe(0);
  });

  it('creating verification re-runs asks whether one exists through its unique index, not a scan of every job', async () => {
    const ids = (await t.prisma.deliveryJob.findMany({ where: { status: 'COMPLETED' }, select: { id: true }, take: 3 })).map((j) => j.id);
    const created = await new VerificationRepository().insertReruns(new SqlTx(pool), ids);
    expect(created).toHaveLength(3);
    // Again: each already has its re-run, so nothing is added.
    expect(await new VerificationRepository().insertReruns(new SqlTx(pool), ids)).toEqual([]);
    const paths = planOf(`"verifiesJobId")`);
    expect(paths.indexes.has('delivery_jobs_verifiesJobId_key')).toBe(true);
    expect(paths.seqScans).toBe(0);
  });

  it('dispatch reads the dispatched jobs through the primary key, not the status index', async () => {
    const nodeId = m.operators[0].nodes[0].id;
    const ids = (await t.prisma.deliveryJob.findMany({ where: { status: 'QUEUED' }, select: { id: true }, take: 64 })).map((j) => j.id);
    const moved = await repo.markDispatched(
      new SqlTx(pool),
      ids.map((id) => ({ id, attempt: 0, nodeId, decision: { event: 'DISPATCHED' } })),
    );
    expect(moved.size).toBe(64);
    const paths = planOf(`SET status = 'DISPATCHED'`);
    expect([...paths.indexes]).toEqual(['delivery_jobs_pkey']);
    expect(paths.seqScans).toBe(0);
  });
});
