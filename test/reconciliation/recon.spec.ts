import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, expectProblem } from '../harness/factories.js';
import { deliverByHand, expire, physicalMarket, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

interface BreakView {
  id: string;
  type: string;
  key: string;
  memberId: string | null;
  expected: string;
  actual: string;
  difference: string;
  status: string;
  ageSeconds: number;
}
interface RunView {
  id: string;
  status: string;
  checks: { name: string; rowsExamined: number; ms: number; differences: number }[];
  breaksOpened: number;
  breaksCleared: number;
  openBreaks: number;
}

describe('reconciliation runs and breaks', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  const run = async () => {
    const res = await t.clearing.post<RunView>('/v1/reconciliation/runs', {});
    expect(res.status, res.text).toBe(201);
    return res.body;
  };
  const open = async () => (await t.clearing.get<{ items: BreakView[] }>('/v1/reconciliation/breaks?status=OPEN&limit=500')).body.items;
  const sql = (q: TemplateStringsArray, ...v: unknown[]) => t.prisma.$executeRaw(q, ...v);

  beforeAll(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'error' } });
    m = await physicalMarket(t, {
      operators: 1,
      nodesPerOperator: 1,
      buyers: 1,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
    });
    await expire(t, m);
    // Two jobs delivered by hand through the node protocol: usage records and escrow releases exist.
    await deliverByHand(t, m, [
      { tokens: 5_000, content: 'ok' },
      { tokens: 5_000, content: 'ok' },
    ]);
  });
  afterAll(() => t.close());

  it('finds nothing on a clean system, and says what each check examined', async () => {
    const r = await run();
    expect(r.status).toBe('COMPLETED');
    expect(r.checks.map((c) => c.name)).toEqual([
      'LEDGER_SUM',
      'BALANCE_DRIFT',
      'POSITION_DRIFT',
      'DELIVERED_TOKENS',
      'ESCROW',
      'USAGE_VS_SCHEDULER',
      'AUDIT_CHAIN',
      'BANK_STATEMENT',
      'INDEX_CHAIN',
      'METERING_DISCREPANCY',
      'TRACE_CHAIN',
      'VERIFICATION_FAILED',
      'DEFAULT_FUND',
    ]);
    expect(r.checks.every((c) => c.differences === 0)).toBe(true);
    // No bank file and no index fixing yet.
    expect(
      r.checks.filter((c) => !['BANK_STATEMENT', 'INDEX_CHAIN', 'DEFAULT_FUND'].includes(c.name)).every((c) => c.rowsExamined > 0),
    ).toBe(true);
    // BALANCE_DRIFT read every account and every transfer, counted in the same pass.
    const [{ n }] = await t.prisma.$queryRaw<
      { n: bigint }[]
    >`SELECT (SELECT count(*) FROM ledger_accounts) + (SELECT count(*) FROM transfers) AS n`;
    expect(r.checks.find((c) => c.name === 'BALANCE_DRIFT')!.rowsExamined).toBe(Number(n));
    expect(await open()).toEqual([]);
  });

  it('a balance edited behind the ledger: BALANCE_DRIFT on that account and LEDGER_SUM, once however often it runs; cleared when fixed', async () => {
    const code = `member:${m.buyers[0].id}:cash`;
    await sql`UPDATE ledger_accounts SET "balanceFen" = "balanceFen" + 123 WHERE code = ${code}`;
    await run();
    const r2 = await run();
    expect(r2.breaksOpened).toBe(0);
    const breaks = await open();
    expect(breaks).toHaveLength(2);
    expect(breaks.map((b) => ({ type: b.type, key: b.key, difference: b.difference }))).toEqual(
      expect.arrayContaining([
        { type: 'LEDGER_SUM', key: 'ledger', difference: '1.23' },
        { type: 'BALANCE_DRIFT', key: code, difference: '1.23' },
      ]),
    );
    expect(breaks.find((b) => b.type === 'BALANCE_DRIFT')).toMatchObject({ memberId: m.buyers[0].id });
    await sql`UPDATE ledger_accounts SET "balanceFen" = "balanceFen" - 123 WHERE code = ${code}`;
    const r3 = await run();
    expect(r3.breaksCleared).toBe(2);
    expect(await open()).toEqual([]);
    const cleared = (await t.clearing.get<{ items: BreakView[] }>('/v1/reconciliation/breaks?status=CLEARED')).body.items;
    expect(cleared).toHaveLength(2);
  });

  it('a position edited: POSITION_DRIFT with the traded and the recorded quantities', async () => {
    await sql`UPDATE positions SET "longQty" = "longQty" + 2 WHERE "memberId" = ${m.buyers[0].id}::uuid AND "seriesId" = ${m.seriesId}::uuid`;
    await run();
    expect(await open()).toEqual([
      expect.objectContaining({
        type: 'POSITION_DRIFT',
        memberId: m.buyers[0].id,
        expected: 'long 1 short 0',
        actual: 'long 3 short 0',
        difference: 'long 2 short 0',
      }),
    ]);
    await sql`UPDATE positions SET "longQty" = "longQty" - 2 WHERE "memberId" = ${m.buyers[0].id}::uuid AND "seriesId" = ${m.seriesId}::uuid`;
    await run();
    expect(await open()).toEqual([]);
  });

  it('a contract moved from one member to another: the series still sums right, and POSITION_DRIFT finds both members', async () => {
    const [buyer, op] = [m.buyers[0].id, m.operators[0].member.id];
    // The series' control totals (1 long, 1 short) are unchanged: only the members' hash totals differ.
    await sql`UPDATE positions SET "longQty" = "longQty" - 1 WHERE "memberId" = ${buyer}::uuid AND "seriesId" = ${m.seriesId}::uuid`;
    await sql`UPDATE positions SET "longQty" = "longQty" + 1 WHERE "memberId" = ${op}::uuid AND "seriesId" = ${m.seriesId}::uuid`;
    await run();
    const breaks = await open();
    expect(breaks).toHaveLength(2);
    expect(breaks).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'POSITION_DRIFT', memberId: buyer, expected: 'long 1 short 0', actual: 'long 0 short 0' }),
        expect.objectContaining({ type: 'POSITION_DRIFT', memberId: op, expected: 'long 0 short 1', actual: 'long 1 short 1' }),
      ]),
    );
    await sql`UPDATE positions SET "longQty" = "longQty" + 1 WHERE "memberId" = ${buyer}::uuid AND "seriesId" = ${m.seriesId}::uuid`;
    await sql`UPDATE positions SET "longQty" = "longQty" - 1 WHERE "memberId" = ${op}::uuid AND "seriesId" = ${m.seriesId}::uuid`;
    await run();
    expect(await open()).toEqual([]);
  });

  it('a usage record deleted: DELIVERED_TOKENS on the obligation and USAGE_VS_SCHEDULER on the job', async () => {
    const [usage] = await t.prisma.usageRecord.findMany({ orderBy: { createdAt: 'asc' }, take: 1 });
    const o = await t.prisma.deliveryObligation.findFirstOrThrow({ where: { seriesId: m.seriesId } });
    await t.prisma.usageRecord.delete({ where: { id: usage.id } });
    await run();
    const breaks = await open();
    // Each job billed 5,000 + ⌊8 × 25 %⌋ = 5,002 tokens; the obligation says 10,004, the records 5,002.
    expect(breaks).toHaveLength(2);
    expect(breaks).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'DELIVERED_TOKENS', key: o.id, expected: '5002', actual: '10004', difference: '5002' }),
        expect.objectContaining({ type: 'USAGE_VS_SCHEDULER', key: usage.jobId, difference: 'completed job without a usage record' }),
      ]),
    );
    await t.prisma.usageRecord.create({ data: usage });
    await run();
    expect(await open()).toEqual([]);
  });

  it('escrow that does not match funded − released − refunded: ESCROW on the obligation and on the buyer account', async () => {
    const o = await t.prisma.deliveryObligation.findFirstOrThrow({ where: { seriesId: m.seriesId } });
    await sql`UPDATE delivery_obligations SET "releasedFen" = "releasedFen" + 5 WHERE id = ${o.id}::uuid`;
    await run();
    const breaks = await open();
    expect(breaks).toHaveLength(2);
    expect(breaks).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'ESCROW', key: `obligation:${o.id}`, difference: '0.05' }),
        expect.objectContaining({ type: 'ESCROW', key: `account:member:${m.buyers[0].id}:escrow`, difference: '0.05' }),
      ]),
    );
    await sql`UPDATE delivery_obligations SET "releasedFen" = "releasedFen" - 5 WHERE id = ${o.id}::uuid`;
    await run();
    expect(await open()).toEqual([]);
  });

  it('detects an audit event edited behind the append-only trigger (hash chain)', async () => {
    const [victim] = await t.prisma.auditEvent.findMany({ orderBy: { seq: 'asc' }, take: 1, skip: 3 });
    expect(victim.hash).toMatch(/^[0-9a-f]{64}$/);
    await expect(sql`UPDATE audit_events SET action = 'nothing.to.see' WHERE id = ${victim.id}::uuid`).rejects.toThrow(/append-only/);
    // A superuser could still switch triggers off; the chain tells.
    await t.prisma.$transaction([
      t.prisma.$executeRaw`SET LOCAL session_replication_role = replica`,
      t.prisma.$executeRaw`UPDATE audit_events SET action = 'nothing.to.see' WHERE id = ${victim.id}::uuid`,
    ]);
    await run();
    expect(await open()).toEqual([
      expect.objectContaining({ type: 'AUDIT_CHAIN', key: victim.id, difference: 'event edited after it was written' }),
    ]);
    await t.prisma.$transaction([
      t.prisma.$executeRaw`SET LOCAL session_replication_role = replica`,
      t.prisma.$executeRaw`UPDATE audit_events SET action = ${victim.action} WHERE id = ${victim.id}::uuid`,
    ]);
    await run();
    expect(await open()).toEqual([]);
  });

  it('breaks are listed with filters and age, resolved once with a comment (audited), by clearing staff only', async () => {
    const code = `member:${m.buyers[0].id}:cash`;
    await sql`UPDATE ledger_accounts SET "balanceFen" = "balanceFen" + 1 WHERE code = ${code}`;
    await run();
    const drift = (
      await t.clearing.get<{ items: BreakView[] }>(`/v1/reconciliation/breaks?status=OPEN&type=BALANCE_DRIFT&memberId=${m.buyers[0].id}`)
    ).body.items;
    expect(drift).toHaveLength(1);
    expect(drift[0].ageSeconds).toBeGreaterThanOrEqual(0);
    expect((await t.clearing.get<{ items: BreakView[] }>('/v1/reconciliation/breaks?status=OPEN&minAgeHours=1')).body.items).toEqual([]);
    const res = await t.clearing.post<BreakView>(`/v1/reconciliation/breaks/${drift[0].id}/resolve`, { comment: 'test fixture: known' });
    expect(res.status, res.text).toBe(201);
    expect(res.body.status).toBe('RESOLVED');
    expectProblem(await t.clearing.post(`/v1/reconciliation/breaks/${drift[0].id}/resolve`, { comment: 'again' }), 409, 'BREAK_NOT_OPEN');
    expectProblem(await t.clearing.post(`/v1/reconciliation/breaks/${drift[0].id}/resolve`, {}), 400, 'VALIDATION_FAILED');
    const events = (
      await t.clearing.get<{ items: { action: string; targetId: string; outcome: string }[] }>(
        `/v1/audit-events?action=reconciliation.break.resolve`,
      )
    ).body.items;
    expect(events.map((e) => e.outcome).sort()).toEqual(['FAILURE', 'FAILURE', 'SUCCESS']);
    const member = await createMember(t, 'BUYER');
    expectProblem(await member.client.get('/v1/reconciliation/breaks'), 403, 'FORBIDDEN_ROLE');
    expectProblem(await member.client.post('/v1/reconciliation/runs', {}), 403, 'FORBIDDEN_ROLE');
    expectProblem(await member.client.get('/v1/audit-events'), 403, 'FORBIDDEN_ROLE');
    await sql`UPDATE ledger_accounts SET "balanceFen" = "balanceFen" - 1 WHERE code = ${code}`;
  });

  it('runs by itself after each settlement run', async () => {
    const settlementRun = await t.prisma.settlementRun.findFirstOrThrow({ where: { type: 'EXPIRY' } });
    const after = await t.prisma.reconciliationRun.findFirst({ where: { settlementRunId: settlementRun.id } });
    expect(after).toMatchObject({ trigger: 'SETTLEMENT', status: 'COMPLETED' });
  });

  it('pages the audit trail newest first with a cursor', async () => {
    const page1 = await t.clearing.get<{ items: { seq: string }[]; nextCursor: string }>('/v1/audit-events?limit=3');
    expect(page1.body.items).toHaveLength(3);
    const page2 = await t.clearing.get<{ items: { seq: string }[] }>(`/v1/audit-events?limit=3&cursor=${page1.body.nextCursor}`);
    expect(BigInt(page2.body.items[0].seq)).toBeLessThan(BigInt(page1.body.items[2].seq));
  });

  it('a drift past 2^53 fen is reported to the fen (amounts never pass through a JSON number)', async () => {
    const code = `member:${m.buyers[0].id}:cash`;
    await sql`UPDATE ledger_accounts SET "balanceFen" = "balanceFen" + 9007199254740993 WHERE code = ${code}`;
    await run();
    expect((await open()).find((b) => b.type === 'BALANCE_DRIFT')).toMatchObject({ key: code, difference: '90071992547409.93' });
    await sql`UPDATE ledger_accounts SET "balanceFen" = "balanceFen" - 9007199254740993 WHERE code = ${code}`;
    expect((await run()).openBreaks).toBe(0);
  });
});
