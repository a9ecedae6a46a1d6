import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENESIS, verifyChain, type TraceLink } from '../../src/trace/domain/trace-chain.js';
import { createMember } from '../harness/factories.js';
import { deliverByHand, closeWindow, expire, physicalMarket, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

interface TraceView {
  obligationId: string;
  status: string;
  sealedHash: string | null;
  headHash: string;
  links: number;
  items: TraceLink[];
  nextCursor: string | null;
}
interface BreakView {
  type: string;
  key: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('the trace of an obligation: trades → obligation → jobs → usage → transfers, hash-chained and sealed at close', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  let obligationId: string;
  const sql = (q: TemplateStringsArray, ...v: unknown[]) => t.prisma.$executeRaw(q, ...v);
  const traceBreaks = async () => {
    const run = await t.clearing.post<{ status: string }>('/v1/reconciliation/runs', {});
    expect(run.status, run.text).toBe(201);
    const open = await t.clearing.get<{ items: BreakView[] }>('/v1/reconciliation/breaks?status=OPEN&limit=500');
    return open.body.items.filter((b) => b.type === 'TRACE_CHAIN').map((b) => b.key);
  };

  beforeAll(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'error' } });
    m = await physicalMarket(t, {
      operators: 1,
      nodesPerOperator: 1,
      buyers: 1,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
    });
    await expire(t, m);
    await deliverByHand(t, m, [
      { tokens: 300, content: 'ok' },
      { tokens: 700, content: 'a' },
    ]);
    const run = await closeWindow(t, m);
    expect(run.status).toBe('COMPLETED');
    obligationId = (await t.prisma.deliveryObligation.findFirstOrThrow({ where: { seriesId: m.seriesId } })).id;
  }, 60_000);
  afterAll(() => t.close());

  it('answers the buyer, the seller and clearing with the chained links; another member gets 404', async () => {
    const url = `/v1/obligations/${obligationId}/trace`;
    const views = await Promise.all([m.buyers[0].client, m.operators[0].member.client, t.clearing].map((c) => c.get<TraceView>(url)));
    for (const v of views) expect(v.status, v.text).toBe(200);
    expect(views[1].body).toEqual(views[0].body);
    const outsider = await createMember(t, 'BUYER');
    expect((await outsider.client.get(url)).status).toBe(404);

    const trace = views[2].body;
    expect(trace).toMatchObject({ obligationId, status: 'CLOSED', nextCursor: null });
    expect(trace.items).toHaveLength(trace.links);
    // Order of the chain, and each link carrying its predecessor's hash from GENESIS to the sealed head.
    expect(trace.items.map((l) => l.kind)).toEqual([
      'TRADE',
      'OBLIGATION',
      'JOB',
      'USAGE',
      'JOB',
      'USAGE',
      'TRANSFER',
      'TRANSFER',
      'TRANSFER',
      'TRANSFER',
    ]);
    expect(trace.items[0].prevHash).toBe(GENESIS);
    for (let i = 1; i < trace.items.length; i++) expect(trace.items[i].prevHash).toBe(trace.items[i - 1].hash);
    expect(verifyChain(trace.items)).toBe(true);
    expect(trace.headHash).toBe(trace.items.at(-1)!.hash);
    expect(trace.sealedHash).toBe(trace.headHash);
    expect((await t.prisma.deliveryObligation.findUniqueOrThrow({ where: { id: obligationId } })).traceHash).toBe(trace.headHash);

    // Each usage record's SHA-256 is that of the output its job stored.
    const jobs = await t.prisma.deliveryJob.findMany({ where: { obligationId } });
    const usage = trace.items.filter((l) => l.kind === 'USAGE');
    expect(usage).toHaveLength(2);
    for (const u of usage) {
      const job = jobs.find((j) => j.id === u.content.jobId)!;
      expect(u.content.outputSha256).toBe(sha256(job.output!));
    }
    // The transfers are the ledger's, amount for amount: funding, two releases, take-or-pay at close.
    const ledger = await t.prisma.transfer.findMany({ where: { obligationId }, orderBy: { seq: 'asc' } });
    const transfers = trace.items.filter((l) => l.kind === 'TRANSFER');
    expect(transfers.map((l) => [l.id, l.content.kind, l.content.amountFen])).toEqual(
      ledger.map((x) => [x.id, x.kind, x.amountFen.toString()]),
    );
    expect(transfers.map((l) => l.content.kind)).toEqual(['ESCROW_FUND', 'ESCROW_RELEASE', 'ESCROW_RELEASE', 'ESCROW_RELEASE']);

    // Pages of 3 links: the first link of each page carries the previous page's last hash.
    const pages: TraceLink[] = [];
    let cursor: string | null = null;
    do {
      const page: TraceView = (await t.clearing.get<TraceView>(`${url}?limit=3${cursor ? `&cursor=${cursor}` : ''}`)).body;
      expect(page.items[0].prevHash).toBe(pages.at(-1)?.hash ?? GENESIS);
      pages.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    expect(pages).toEqual(trace.items);
  });

  it('tampering after close is a TRACE_CHAIN break: a usage record, a transfer amount, a job output', async () => {
    expect(await traceBreaks()).toEqual([]);

    const u = await t.prisma.usageRecord.findFirstOrThrow({ where: { obligationId }, orderBy: { createdAt: 'asc' } });
    await sql`UPDATE usage_records SET "outputSha256" = ${sha256('something else')} WHERE id = ${u.id}::uuid`;
    expect(await traceBreaks()).toEqual(expect.arrayContaining([obligationId, `output:${u.id}`]));
    const tampered = (await t.clearing.get<TraceView>(`/v1/obligations/${obligationId}/trace`)).body;
    expect(tampered.headHash).not.toBe(tampered.sealedHash);
    await sql`UPDATE usage_records SET "outputSha256" = ${u.outputSha256} WHERE id = ${u.id}::uuid`;
    expect(await traceBreaks()).toEqual([]);

    // Transfers are immutable by trigger; tampering means going around it.
    const release = await t.prisma.transfer.findFirstOrThrow({ where: { obligationId, kind: 'ESCROW_RELEASE' } });
    await sql`ALTER TABLE transfers DISABLE TRIGGER transfers_immutable`;
    await sql`UPDATE transfers SET "amountFen" = "amountFen" + 1 WHERE id = ${release.id}::uuid`;
    await sql`ALTER TABLE transfers ENABLE TRIGGER transfers_immutable`;
    expect(await traceBreaks()).toContain(obligationId);
    await sql`ALTER TABLE transfers DISABLE TRIGGER transfers_immutable`;
    await sql`UPDATE transfers SET "amountFen" = "amountFen" - 1 WHERE id = ${release.id}::uuid`;
    await sql`ALTER TABLE transfers ENABLE TRIGGER transfers_immutable`;
    expect(await traceBreaks()).toEqual([]);

    // The delivered output itself rewritten: its SHA-256 no longer matches the usage record's.
    await sql`UPDATE delivery_jobs SET output = 'forged' WHERE id = ${u.jobId}::uuid`;
    expect(await traceBreaks()).toEqual([`output:${u.id}`]);
  });
});
