import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerService } from '../../src/ledger/ledger.service.js';
import { HOUSE } from '../../src/ledger/ledger.types.js';
import { PartitionsAheadHandler } from '../../src/platform/partitions/partitions-ahead.handler.js';
import { PartitionsRepository } from '../../src/platform/partitions/partitions.repository.js';
import { schedules } from '../../src/platform/queues/job-registry.js';
import { deliverByHand, expire, physicalMarket, type PhysicalMarket } from '../harness/delivery-fixtures.js';
import { expectProblem } from '../harness/factories.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

interface RunView {
  openBreaks: number;
  checks: { name: string; rowsExamined: number; differences: number }[];
}
interface ArchiveView {
  month: string;
  rowsExamined: number;
  reconciled: boolean;
  mismatches: { what: string; key: string; recorded: string; archived: string }[];
}

// Months relative to the database's clock (UTC): two months ago, last month, this month.
const monthOf = (d: Date, back: number) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - back, 1));
const ym = (d: Date) => d.toISOString().slice(0, 7);
const suffix = (d: Date) => `_y${d.toISOString().slice(0, 4)}m${d.toISOString().slice(5, 7)}`;
const lastMs = (month: Date) => new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + 1, 1) - 1);

describe('monthly partitions of transfers, usage records and audit events', () => {
  let t: TestApp;
  let m: PhysicalMarket;
  let now: Date;
  let [m2, m1, cur] = [new Date(), new Date(), new Date()];
  const run = async () => {
    const res = await t.clearing.post<RunView>('/v1/reconciliation/runs', {});
    expect(res.status, res.text).toBe(201);
    return res.body;
  };
  const partitionOf = async (table: string, where: string) =>
    (await t.prisma.$queryRawUnsafe<{ p: string }[]>(`SELECT tableoid::regclass::text AS p FROM ${table} WHERE ${where}`)).map((r) => r.p);

  /** A transfer as the ledger would have posted it at `createdAt` (row, key and balances). */
  const historicTransfer = (key: string, amountFen: bigint, createdAt: Date) =>
    t.prisma.$transaction([
      t.prisma.$executeRaw`
        INSERT INTO transfers (id, "idempotencyKey", "debitAccountId", "creditAccountId", "amountFen", kind, "businessDate", "createdAt")
        SELECT gen_random_uuid(), ${key}, d.id, c.id, ${amountFen}, 'FEE', ${createdAt}::date, ${createdAt}
        FROM ledger_accounts d, ledger_accounts c WHERE d.code = ${HOUSE.ccpSettlement} AND c.code = ${HOUSE.ccpFees}`,
      t.prisma.$executeRaw`UPDATE ledger_accounts SET "balanceFen" = "balanceFen" - ${amountFen} WHERE code = ${HOUSE.ccpSettlement}`,
      t.prisma.$executeRaw`UPDATE ledger_accounts SET "balanceFen" = "balanceFen" + ${amountFen} WHERE code = ${HOUSE.ccpFees}`,
    ]);
  const historicAudit = (action: string, createdAt: Date) =>
    t.prisma
      .$executeRaw`INSERT INTO audit_events (id, action, outcome, "createdAt") VALUES (gen_random_uuid(), ${action}, 'SUCCESS', ${createdAt})`;

  beforeAll(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'error' } });
    [{ now }] = await t.prisma.$queryRaw<{ now: Date }[]>`SELECT now()`;
    [m2, m1, cur] = [monthOf(now, 2), monthOf(now, 1), monthOf(now, 0)];
    // The template was migrated this month: the past months' partitions are made here, as the
    // migration makes them for the oldest existing row.
    await t.prisma.$executeRaw`SELECT create_month_partitions(${m2}::date, ${m1}::date)`;
    // History, oldest first (the audit chain is in insertion order): two months ago and up to
    // the last millisecond of last month.
    expect(await t.prisma.auditEvent.count()).toBe(0);
    await historicAudit('history.a', new Date(m2.getTime() + 86_400_000));
    await historicTransfer('hist-m2', 500n, new Date(m2.getTime() + 86_400_000));
    await historicAudit('history.b', lastMs(m1));
    await historicTransfer('hist-m1', 300n, lastMs(m1));

    // This month, through the API: a physical market delivered by hand (usage records, escrow).
    m = await physicalMarket(t, {
      operators: 1,
      nodesPerOperator: 1,
      buyers: 1,
      trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
    });
    await expire(t, m);
    await deliverByHand(t, m, [
      { tokens: 5_000, content: 'ok' },
      { tokens: 5_000, content: 'ok' },
    ]);
    // Fixture: the first usage record as if metered at the last millisecond of last month (a
    // superuser rewrite with triggers off; its key row follows it). The row moves partition.
    const [first] = await t.prisma.usageRecord.findMany({ orderBy: { createdAt: 'asc' }, take: 1 });
    await t.prisma.$transaction([
      t.prisma.$executeRaw`SET LOCAL session_replication_role = replica`,
      t.prisma.$executeRaw`UPDATE usage_records SET "createdAt" = ${lastMs(m1)} WHERE id = ${first.id}::uuid`,
      t.prisma.$executeRaw`UPDATE usage_keys SET "createdAt" = ${lastMs(m1)} WHERE "usageId" = ${first.id}::uuid`,
    ]);
  }, 120_000);
  afterAll(() => t?.close());

  it('rows on either side of a month boundary land in their month; a key replayed next month posts nothing; reconciliation and the audit chain pass', async () => {
    const ledger = t.app.get(LedgerService);
    const [posted] = await t.prisma.$transaction((tx) =>
      ledger.post(tx, [
        {
          idempotencyKey: 'now-1',
          debit: HOUSE.ccpSettlement,
          credit: HOUSE.ccpFees,
          amountFen: 7n,
          kind: 'FEE',
          businessDate: '2026-12-01',
        },
      ]),
    );
    expect(await partitionOf('transfers', `"idempotencyKey" = 'hist-m2'`)).toEqual([`transfers${suffix(m2)}`]);
    expect(await partitionOf('transfers', `"idempotencyKey" = 'hist-m1'`)).toEqual([`transfers${suffix(m1)}`]);
    expect(await partitionOf('transfers', `id = '${posted.id}'`)).toEqual([`transfers${suffix(cur)}`]);
    const usage = await t.prisma.usageRecord.findMany({ orderBy: { createdAt: 'asc' } });
    expect(usage).toHaveLength(2);
    expect(await partitionOf('usage_records', `id = '${usage[0].id}'`)).toEqual([`usage_records${suffix(m1)}`]);
    expect(await partitionOf('usage_records', `id = '${usage[1].id}'`)).toEqual([`usage_records${suffix(cur)}`]);
    expect(await partitionOf('audit_events', `action = 'history.b'`)).toEqual([`audit_events${suffix(m1)}`]);
    expect(new Set(await partitionOf('audit_events', `action <> 'history.a' AND action <> 'history.b'`))).toEqual(
      new Set([`audit_events${suffix(cur)}`]),
    );

    // The same key this month: the original (last month's) transfer comes back, nothing moves.
    const fees = async () => (await t.prisma.ledgerAccount.findUniqueOrThrow({ where: { code: HOUSE.ccpFees } })).balanceFen;
    const before = await fees();
    const [replayed] = await t.prisma.$transaction((tx) =>
      ledger.post(tx, [
        {
          idempotencyKey: 'hist-m1',
          debit: HOUSE.ccpSettlement,
          credit: HOUSE.ccpFees,
          amountFen: 300n,
          kind: 'FEE',
          businessDate: '2026-12-01',
        },
      ]),
    );
    expect(replayed.createdAt.toISOString()).toBe(lastMs(m1).toISOString());
    expect(await fees()).toBe(before);
    expect(await t.prisma.transfer.count({ where: { idempotencyKey: 'hist-m1' } })).toBe(1);
    // A second usage record for a job metered last month is refused this month, as the unique index did.
    await expect(
      t.prisma.$executeRaw`
        INSERT INTO usage_records (id, "jobId", "obligationId", "nodeId", "operatorId", "promptTokens", "completionTokens", "billableTokens", "creditedTokens", "excessTokens",
                                   "releasedFen", "ttftMs", "durationMs", "ttftBreach", "rateBreach")
        SELECT gen_random_uuid(), "jobId", "obligationId", "nodeId", "operatorId", "promptTokens", "completionTokens", "billableTokens", "creditedTokens", "excessTokens",
               "releasedFen", "ttftMs", "durationMs", "ttftBreach", "rateBreach" FROM usage_records WHERE id = ${usage[0].id}::uuid`,
    ).rejects.toThrow(/usage_keys_pkey|unique/);
    // So is a transfer written past the ledger (straight SQL) with a key last month's transfer holds.
    await expect(
      t.prisma.$executeRaw`
        INSERT INTO transfers (id, "idempotencyKey", "debitAccountId", "creditAccountId", "amountFen", kind, "businessDate")
        SELECT gen_random_uuid(), 'hist-m1', "debitAccountId", "creditAccountId", 1, kind, "businessDate" FROM transfers WHERE "idempotencyKey" = 'now-1'`,
    ).rejects.toThrow(/transfer_keys_pkey|unique/);
    expect(await t.prisma.transfer.count({ where: { idempotencyKey: 'hist-m1' } })).toBe(1);
    // Prisma's unique lookups on the models still work on the partitioned tables.
    expect((await t.prisma.usageRecord.findUnique({ where: { jobId: usage[0].jobId } }))?.id).toBe(usage[0].id);
    expect((await t.prisma.transfer.findUnique({ where: { id: posted.id } }))?.idempotencyKey).toBe('now-1');

    const r = await run();
    expect(r.checks.filter((c) => c.differences > 0)).toEqual([]);
    expect(r.openBreaks).toBe(0);
    // The chain crosses both boundaries: this month's first event links to last month's last.
    const chain = await t.prisma.auditEvent.findMany({ orderBy: { seq: 'asc' }, take: 3 });
    expect(chain.map((e) => e.action).slice(0, 2)).toEqual(['history.a', 'history.b']);
    expect(chain[1].prevHash).toBe(chain[0].hash);
    expect(chain[2].prevHash).toBe(chain[1].hash);
    expect(r.checks.find((c) => c.name === 'AUDIT_CHAIN')!.rowsExamined).toBeGreaterThan(2);
  });

  it('the partitions-ahead job is a daily schedule, creates the months ahead once and is idempotent; a row beyond them lands in DEFAULT', async () => {
    expect(schedules(t.config).find((s) => s.job === 'maintenance.partitions-ahead')).toMatchObject({ payload: { monthsAhead: 3 } });
    const handler = t.app.get(PartitionsAheadHandler);
    // The migration made this month and the next three.
    expect(await handler.createAhead({ monthsAhead: 3 })).toEqual({ created: 0 });
    expect(await handler.createAhead({ monthsAhead: 5 })).toEqual({ created: 6 });
    expect(await handler.createAhead({ monthsAhead: 5 })).toEqual({ created: 0 });
    const partitions = await t.app.get(PartitionsRepository).list(t.prisma);
    for (const table of ['transfers', 'usage_records', 'audit_events'])
      for (let ahead = 0; ahead <= 5; ahead++)
        expect(partitions).toContainEqual({
          table,
          name: `${table}${suffix(monthOf(now, -ahead))}`,
          month: monthOf(now, -ahead).toISOString().slice(0, 10),
        });
    // Truncate refusal is on each partition too (statement triggers are not cloned).
    await expect(t.prisma.$executeRawUnsafe(`TRUNCATE audit_events${suffix(monthOf(now, -5))}`)).rejects.toThrow(/append-only/);
    await expect(t.prisma.$executeRawUnsafe(`TRUNCATE transfers${suffix(monthOf(now, -5))}`)).rejects.toThrow(/immutable/);
    await historicTransfer('far-future', 1n, new Date(Date.UTC(now.getUTCFullYear() + 10, 0, 1)));
    expect(await partitionOf('transfers', `"idempotencyKey" = 'far-future'`)).toEqual(['transfers_default']);
  });

  it('archives the oldest reconciled months; live reconciliation still passes; an archived month reconciles from its archive and a tampered one does not', async () => {
    const archive = (month: string) => t.clearing.post<ArchiveView>('/v1/reconciliation/archives', { month });
    expect((await archive(ym(cur))).status).toBe(409);
    // Months are archived oldest first: the audit chain's live part must start where the archive ends.
    expect((await archive(ym(m1))).status).toBe(409);
    expect((await t.clearing.get(`/v1/reconciliation/archives/${ym(m1)}/check`)).status).toBe(404);
    // Only clearing archives or checks a month: the buyer and the operator of the market are refused.
    for (const member of [m.buyers[0], m.operators[0].member]) {
      expectProblem(await member.client.post('/v1/reconciliation/archives', { month: ym(m2) }), 403, 'FORBIDDEN_ROLE');
      expectProblem(await member.client.get(`/v1/reconciliation/archives/${ym(m2)}/check`), 403, 'FORBIDDEN_ROLE');
    }
    // A month cannot be archived out of sight while the books disagree: a balance moved past the
    // ledger is a reconciliation break, and the archive is refused with nothing detached.
    const drifted = HOUSE.ccpFees;
    await t.prisma.$executeRaw`UPDATE ledger_accounts SET "balanceFen" = "balanceFen" + 1 WHERE code = ${drifted}`;
    expectProblem(await archive(ym(m2)), 409, 'MONTH_NOT_ARCHIVABLE');
    expect(await partitionOf('transfers', `"idempotencyKey" = 'hist-m2'`)).toEqual([`transfers${suffix(m2)}`]);
    await t.prisma.$executeRaw`UPDATE ledger_accounts SET "balanceFen" = "balanceFen" - 1 WHERE code = ${drifted}`;

    for (const month of [m2, m1]) {
      const res = await archive(ym(month));
      expect(res.status, res.text).toBe(201);
      expect(res.body).toMatchObject({ month: ym(month), reconciled: true, mismatches: [] });
      expect(res.body.rowsExamined).toBeGreaterThanOrEqual(2);
      const r = await run();
      expect(r.checks.filter((c) => c.differences > 0)).toEqual([]);
    }
    expect(await partitionOf(`archive."transfers${suffix(m1)}"`, 'true')).toEqual([`archive.transfers${suffix(m1)}`]);
    expect(await partitionOf(`archive."usage_records${suffix(m1)}"`, 'true')).toEqual([`archive.usage_records${suffix(m1)}`]);
    expect(await t.prisma.transfer.count({ where: { idempotencyKey: { in: ['hist-m1', 'hist-m2'] } } })).toBe(0);
    expect(await t.prisma.usageRecord.count()).toBe(1);
    // The key stays: a replay of an archived transfer still posts nothing.
    const ledger = t.app.get(LedgerService);
    const fees = async () => (await t.prisma.ledgerAccount.findUniqueOrThrow({ where: { code: HOUSE.ccpFees } })).balanceFen;
    const before = await fees();
    await t.prisma
      .$transaction((tx) =>
        ledger.postBatch(tx, [
          {
            idempotencyKey: 'hist-m1',
            debit: HOUSE.ccpSettlement,
            credit: HOUSE.ccpFees,
            amountFen: 300n,
            kind: 'FEE',
            businessDate: '2026-12-01',
          },
        ]),
      )
      .catch(() => undefined);
    expect(await fees()).toBe(before);

    // The archive is read-only; a superuser who forces an edit is found by the archive check.
    await expect(t.prisma.$executeRawUnsafe(`UPDATE archive."transfers${suffix(m1)}" SET "amountFen" = "amountFen" + 1`)).rejects.toThrow(
      /read-only/,
    );
    await t.prisma.$transaction([
      t.prisma.$executeRaw`SET LOCAL session_replication_role = replica`,
      t.prisma.$executeRawUnsafe(`UPDATE archive."transfers${suffix(m1)}" SET "amountFen" = "amountFen" + 1`),
      t.prisma.$executeRawUnsafe(`UPDATE archive."audit_events${suffix(m2)}" SET action = 'history.forged'`),
    ]);
    const m1Check = await t.clearing.get<ArchiveView>(`/v1/reconciliation/archives/${ym(m1)}/check`);
    expect(m1Check.body.reconciled).toBe(false);
    expect(m1Check.body.mismatches).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ what: 'month', key: 'transferAmountFen' }),
        expect.objectContaining({ what: 'ACCOUNT_NET_FEN', recorded: '-300', archived: '-301' }),
      ]),
    );
    const m2Check = await t.clearing.get<ArchiveView>(`/v1/reconciliation/archives/${ym(m2)}/check`);
    expect(m2Check.body.reconciled).toBe(false);
    expect(m2Check.body.mismatches.map((x) => x.what)).toContain('AUDIT_CHAIN');
  });
});
