import { Injectable } from '@nestjs/common';
import { Prisma } from '../generated/prisma/client.js';
import { formatFen } from '../platform/money/money.js';
import type { Db } from '../platform/prisma/prisma.service.js';
import { bankStatement, defaultFund, indexChain } from './ccp-checks.repository.js';
import { meteringDiscrepancy, traceChain, verificationFailed } from './integrity-checks.repository.js';
import type { CheckName, CheckResult, Difference } from './checks.js';

// Every check is one or two set-based statements over the whole data; none loops over rows.

async function ledgerSum(db: Db): Promise<CheckResult> {
  const [r] = await db.$queryRaw<
    { rows: bigint; total: bigint }[]
  >`SELECT count(*)::bigint AS rows, COALESCE(sum("balanceFen"), 0)::bigint AS total FROM ledger_accounts`;
  const differences: Difference[] =
    r.total === 0n
      ? []
      : [
          {
            type: 'LEDGER_SUM',
            key: 'ledger',
            memberId: null,
            unit: 'CNY',
            expected: '0.00',
            actual: formatFen(r.total),
            difference: formatFen(r.total),
            references: {},
          },
        ];
  return { name: 'LEDGER_SUM', rowsExamined: Number(r.rows), differences };
}

async function balanceDrift(db: Db): Promise<CheckResult> {
  const rows = await db.$queryRaw<{ code: string; memberId: string | null; balance: bigint; recomputed: bigint }[]>`
    WITH moves AS (
      SELECT "creditAccountId" AS account, "amountFen" AS delta FROM transfers
      UNION ALL SELECT "debitAccountId", -"amountFen" FROM transfers
      -- Archived months: what their transfers moved, recorded when they were archived.
      UNION ALL SELECT key, amount FROM archived_totals WHERE scope = 'ACCOUNT_NET_FEN'
    ), sums AS (SELECT account, sum(delta)::bigint AS total FROM moves GROUP BY account)
    SELECT a.code, a."memberId", a."balanceFen" AS balance, COALESCE(s.total, 0)::bigint AS recomputed
    FROM ledger_accounts a LEFT JOIN sums s ON s.account = a.id
    WHERE a."balanceFen" <> COALESCE(s.total, 0)`;
  const [{ n }] = await db.$queryRaw<
    { n: bigint }[]
  >`SELECT (SELECT count(*) FROM ledger_accounts) + (SELECT count(*) FROM transfers) AS n`;
  return {
    name: 'BALANCE_DRIFT',
    rowsExamined: Number(n),
    differences: rows.map((r) => ({
      type: 'BALANCE_DRIFT',
      key: r.code,
      memberId: r.memberId,
      unit: 'CNY',
      expected: formatFen(r.recomputed),
      actual: formatFen(r.balance),
      difference: formatFen(r.balance - r.recomputed),
      references: { account: r.code },
    })),
  };
}

/**
 * Positions against the trades, in two steps. Per series, control totals (contracts long and short)
 * and hash totals (Σ contracts × a hash of the member, long and short) from each side: equal totals
 * leave no difference a member-by-member comparison could find, short of two members' hashes
 * colliding (1 in 2³² per pair) where drifts cancel exactly. Only a series whose totals differ is
 * compared member by member. The totals are grouped by series (hundreds of groups), where the full
 * comparison grouped every trade leg by member and series (a million groups at a million positions:
 * 1.95 s of a 2.3 s reconciliation in bench:reconciliation).
 */
async function positionDrift(db: Db): Promise<CheckResult> {
  const [totals] = await db.$queryRaw<{ n: bigint; differing: string[] | null }[]>`
    WITH t AS (
      SELECT "seriesId", count(*) AS n, sum(quantity) AS q,
             sum(quantity::bigint * uuid_hash("buyerId")) AS hl, sum(quantity::bigint * uuid_hash("sellerId")) AS hs
      FROM trades GROUP BY 1
    ), p AS (
      SELECT "seriesId", count(*) AS n, sum("longQty") AS l, sum("shortQty") AS s,
             sum("longQty"::bigint * uuid_hash("memberId")) AS hl, sum("shortQty"::bigint * uuid_hash("memberId")) AS hs
      FROM positions GROUP BY 1
    )
    SELECT COALESCE(sum(COALESCE(p.n, 0) + COALESCE(t.n, 0)), 0)::bigint AS n,
           array_agg(COALESCE(p."seriesId", t."seriesId")) FILTER (WHERE
             COALESCE(p.l, 0) <> COALESCE(t.q, 0) OR COALESCE(p.s, 0) <> COALESCE(t.q, 0)
             OR COALESCE(p.hl, 0) <> COALESCE(t.hl, 0) OR COALESCE(p.hs, 0) <> COALESCE(t.hs, 0)) AS differing
    FROM p FULL JOIN t ON t."seriesId" = p."seriesId"`;
  const differing = totals.differing ?? [];
  const rows =
    differing.length === 0
      ? []
      : await db.$queryRaw<
          {
            memberId: string;
            seriesId: string;
            code: string | null;
            long: number;
            short: number;
            tradedLong: number;
            tradedShort: number;
          }[]
        >`
    WITH legs AS (
      SELECT "buyerId" AS member, "seriesId", quantity AS l, 0 AS s FROM trades WHERE "seriesId" = ANY (${differing}::uuid[])
      UNION ALL SELECT "sellerId", "seriesId", 0, quantity FROM trades WHERE "seriesId" = ANY (${differing}::uuid[])
    ), traded AS (SELECT member, "seriesId", sum(l)::int AS l, sum(s)::int AS s FROM legs GROUP BY member, "seriesId"),
    held AS (SELECT * FROM positions WHERE "seriesId" = ANY (${differing}::uuid[]))
    SELECT COALESCE(p."memberId", t.member) AS "memberId", COALESCE(p."seriesId", t."seriesId") AS "seriesId", se.code,
           COALESCE(p."longQty", 0) AS long, COALESCE(p."shortQty", 0) AS short, COALESCE(t.l, 0) AS "tradedLong", COALESCE(t.s, 0) AS "tradedShort"
    FROM held p FULL JOIN traded t ON t.member = p."memberId" AND t."seriesId" = p."seriesId"
    LEFT JOIN series se ON se.id = COALESCE(p."seriesId", t."seriesId")
    WHERE COALESCE(p."longQty", 0) <> COALESCE(t.l, 0) OR COALESCE(p."shortQty", 0) <> COALESCE(t.s, 0)`;
  return {
    name: 'POSITION_DRIFT',
    rowsExamined: Number(totals.n),
    differences: rows.map((r) => ({
      type: 'POSITION_DRIFT',
      key: `${r.memberId}:${r.seriesId}`,
      memberId: r.memberId,
      unit: 'CONTRACTS',
      expected: `long ${r.tradedLong} short ${r.tradedShort}`,
      actual: `long ${r.long} short ${r.short}`,
      difference: `long ${r.long - r.tradedLong} short ${r.short - r.tradedShort}`,
      references: { series: r.code, seriesId: r.seriesId },
    })),
  };
}

async function deliveredTokens(db: Db): Promise<CheckResult> {
  const rows = await db.$queryRaw<{ id: string; buyerId: string; delivered: bigint; metered: bigint }[]>`
    SELECT o.id, o."buyerId", o."deliveredTokens" AS delivered, COALESCE(u.total, 0)::bigint AS metered
    FROM delivery_obligations o LEFT JOIN (
      SELECT "obligationId", sum(tokens) AS total FROM (
        SELECT "obligationId", "creditedTokens" AS tokens FROM usage_records
        UNION ALL SELECT key, amount FROM archived_totals WHERE scope = 'OBLIGATION_CREDITED_TOKENS') c
      GROUP BY "obligationId") u ON u."obligationId" = o.id
    WHERE o."deliveredTokens" <> COALESCE(u.total, 0)`;
  const [{ n }] = await db.$queryRaw<
    { n: bigint }[]
  >`SELECT (SELECT count(*) FROM delivery_obligations) + (SELECT count(*) FROM usage_records) AS n`;
  return {
    name: 'DELIVERED_TOKENS',
    rowsExamined: Number(n),
    differences: rows.map((r) => ({
      type: 'DELIVERED_TOKENS',
      key: r.id,
      memberId: r.buyerId,
      unit: 'TOKENS',
      expected: r.metered.toString(),
      actual: r.delivered.toString(),
      difference: (r.delivered - r.metered).toString(),
      references: { obligationId: r.id },
    })),
  };
}

/**
 * What an obligation's transfers leave in escrow, summed over its rows: funded − released −
 * refunded. One rule for the live ESCROW check and for a month's archived totals.
 */
export const ESCROW_HELD_FEN = `sum(CASE WHEN kind = 'ESCROW_FUND' THEN "amountFen" WHEN kind IN ('ESCROW_RELEASE', 'ESCROW_REFUND') THEN -"amountFen" ELSE 0 END)`;

/**
 * Escrow = funded − released − refunded: per obligation (its record against its transfers), and
 * per buyer escrow account (its balance against what its obligations still hold).
 */
async function escrow(db: Db): Promise<CheckResult> {
  const perObligation = await db.$queryRaw<{ id: string; buyerId: string; recorded: bigint; ledger: bigint }[]>`
    WITH moved AS (
      SELECT "obligationId",
             ${Prisma.raw(ESCROW_HELD_FEN)}::bigint AS held
      FROM (SELECT "obligationId", kind::text AS kind, "amountFen" FROM transfers WHERE "obligationId" IS NOT NULL
            -- Archived months' escrow moves, net, as one ESCROW_FUND each.
            UNION ALL SELECT key, 'ESCROW_FUND', amount FROM archived_totals WHERE scope = 'OBLIGATION_HELD_FEN') t
      GROUP BY "obligationId"
    )
    SELECT o.id, o."buyerId", (o."notionalFen" - o."releasedFen" - o."refundedFen")::bigint AS recorded, COALESCE(m.held, 0)::bigint AS ledger
    FROM delivery_obligations o LEFT JOIN moved m ON m."obligationId" = o.id
    WHERE o."notionalFen" - o."releasedFen" - o."refundedFen" <> COALESCE(m.held, 0)`;
  const perAccount = await db.$queryRaw<{ code: string; memberId: string; balance: bigint; held: bigint }[]>`
    SELECT a.code, a."memberId", a."balanceFen" AS balance, COALESCE(h.held, 0)::bigint AS held
    FROM ledger_accounts a
    LEFT JOIN (SELECT "buyerId", sum("notionalFen" - "releasedFen" - "refundedFen")::bigint AS held FROM delivery_obligations GROUP BY "buyerId") h ON h."buyerId" = a."memberId"
    WHERE a.type = 'ESCROW' AND a."balanceFen" <> COALESCE(h.held, 0)`;
  const [{ n }] = await db.$queryRaw<
    { n: bigint }[]
  >`SELECT (SELECT count(*) FROM delivery_obligations) + (SELECT count(*) FROM transfers WHERE "obligationId" IS NOT NULL) + (SELECT count(*) FROM ledger_accounts WHERE type = 'ESCROW') AS n`;
  return {
    name: 'ESCROW',
    rowsExamined: Number(n),
    differences: [
      ...perObligation.map((r): Difference => ({
        type: 'ESCROW',
        key: `obligation:${r.id}`,
        memberId: r.buyerId,
        unit: 'CNY',
        expected: formatFen(r.recorded),
        actual: formatFen(r.ledger),
        difference: formatFen(r.ledger - r.recorded),
        references: { obligationId: r.id },
      })),
      ...perAccount.map((r): Difference => ({
        type: 'ESCROW',
        key: `account:${r.code}`,
        memberId: r.memberId,
        unit: 'CNY',
        expected: formatFen(r.held),
        actual: formatFen(r.balance),
        difference: formatFen(r.balance - r.held),
        references: { account: r.code },
      })),
    ],
  };
}

// Jobs whose usage record is in an archived month (its key stays in usage_keys): the archive
// check covers them, not this one.
const ARCHIVED_USAGE_JOBS = Prisma.sql`
  SELECT k."jobId" FROM usage_keys k JOIN archived_months a
    ON k."createdAt" >= (a.month::timestamp AT TIME ZONE 'UTC') AND k."createdAt" < ((a.month + interval '1 month') AT TIME ZONE 'UTC')`;

/** What agents reported (usage records) against what the scheduler recorded (jobs). */
async function usageVsScheduler(db: Db): Promise<CheckResult> {
  const rows = await db.$queryRaw<{ jobId: string; buyerId: string | null; status: string | null; usage: boolean; problem: string }[]>`
    SELECT COALESCE(j.id, u."jobId") AS "jobId", j."buyerId", j.status::text AS status, u.id IS NOT NULL AS usage,
      CASE
        WHEN j.id IS NULL THEN 'usage record without a job'
        WHEN u.id IS NULL THEN 'completed job without a usage record'
        WHEN j.status <> 'COMPLETED' THEN 'usage record for a job that is ' || j.status
        WHEN u."obligationId" <> j."obligationId" THEN 'usage record on another obligation'
        ELSE 'usage record from another operator'
      END AS problem
    FROM (SELECT * FROM delivery_jobs WHERE (status = 'COMPLETED' AND "verifiesJobId" IS NULL AND id NOT IN (${ARCHIVED_USAGE_JOBS}))
                                          OR id IN (SELECT "jobId" FROM usage_records)) j
    FULL JOIN usage_records u ON u."jobId" = j.id
    WHERE j.id IS NULL OR u.id IS NULL OR j.status <> 'COMPLETED' OR u."obligationId" <> j."obligationId" OR u."operatorId" <> j."sellerId"`;
  const [{ n }] = await db.$queryRaw<
    { n: bigint }[]
  >`SELECT (SELECT count(*) FROM delivery_jobs WHERE status = 'COMPLETED' AND "verifiesJobId" IS NULL) + (SELECT count(*) FROM usage_records) AS n`;
  return {
    name: 'USAGE_VS_SCHEDULER',
    rowsExamined: Number(n),
    differences: rows.map((r) => ({
      type: 'USAGE_VS_SCHEDULER',
      key: r.jobId,
      memberId: r.buyerId,
      unit: 'JOB',
      expected: 'COMPLETED with one usage record',
      actual: `${r.status ?? 'no job'}${r.usage ? ' with usage' : ' without usage'}`,
      difference: r.problem,
      references: { jobId: r.jobId },
    })),
  };
}

/** Every audit event's hash covers its fields and its predecessor's hash (set by a trigger). */
async function auditChain(db: Db): Promise<CheckResult> {
  const rows = await db.$queryRaw<
    { seq: bigint; id: string; hash: string; recomputed: string; prevHash: string | null; previous: string | null }[]
  >`
    WITH chain AS (
      SELECT e.seq, e.id, e.hash, e."prevHash", lag(e.hash) OVER (ORDER BY e.seq) AS previous,
             encode(sha256(convert_to(audit_event_material(e), 'UTF8')), 'hex') AS recomputed
      FROM audit_events e WHERE e.hash IS NOT NULL
    )
    SELECT seq, id, hash, recomputed, "prevHash", previous FROM chain
    WHERE hash <> recomputed OR ("prevHash" IS DISTINCT FROM previous AND previous IS NOT NULL)`;
  const [{ n }] = await db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM audit_events`;
  return {
    name: 'AUDIT_CHAIN',
    rowsExamined: Number(n),
    differences: rows.map((r) => ({
      type: 'AUDIT_CHAIN',
      key: r.id,
      memberId: null,
      unit: 'HASH',
      expected: r.hash !== r.recomputed ? r.recomputed : (r.previous ?? ''),
      actual: r.hash !== r.recomputed ? r.hash : (r.prevHash ?? ''),
      difference: r.hash !== r.recomputed ? 'event edited after it was written' : 'chain link broken (an event removed or inserted)',
      references: { auditEventId: r.id, seq: r.seq.toString() },
    })),
  };
}

const CHECKS: Record<CheckName, (db: Db) => Promise<CheckResult>> = {
  DEFAULT_FUND: defaultFund,
  LEDGER_SUM: ledgerSum,
  BALANCE_DRIFT: balanceDrift,
  POSITION_DRIFT: positionDrift,
  DELIVERED_TOKENS: deliveredTokens,
  ESCROW: escrow,
  USAGE_VS_SCHEDULER: usageVsScheduler,
  AUDIT_CHAIN: auditChain,
  BANK_STATEMENT: bankStatement,
  INDEX_CHAIN: indexChain,
  METERING_DISCREPANCY: meteringDiscrepancy,
  TRACE_CHAIN: traceChain,
  VERIFICATION_FAILED: verificationFailed,
};

/**
 * The reconciliation checks: each one is its queries and how their rows read as differences, kept
 * together so a check can be read in one place. Names and result types are in checks.ts.
 */
@Injectable()
export class ChecksRepository {
  run(db: Db, name: CheckName): Promise<CheckResult> {
    return CHECKS[name](db);
  }
}
