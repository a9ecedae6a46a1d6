import { Injectable } from '@nestjs/common';
import type { AccountType, TransferKind } from '../generated/prisma/enums.js';
import { DomainError } from '../platform/errors/error-codes.js';
import type { Db, RawSql } from '../platform/prisma/prisma.service.js';
import { postgresError } from '../platform/prisma/postgres-error.js';
import { pgArray } from '../platform/prisma/sql-tx.js';
import { MEMBER_ACCOUNT_TYPES, memberAccount, type PostedTransfer, type TransferRequest } from './ledger.types.js';

interface AccountRow {
  id: string;
  code: string;
  type: AccountType;
}

interface PostOutcome {
  inserted: number;
}

/** Amounts, sequence numbers and dates come back as text: the same with Prisma and with pg. */
interface TransferRow {
  id: string;
  seq: string;
  idempotencyKey: string;
  debit: string;
  credit: string;
  amountFen: string;
  kind: TransferKind;
  businessDate: string;
  settlementRunId: string | null;
  tradeId: string | null;
  obligationId: string | null;
  jobId: string | null;
  withdrawalId: string | null;
  reference: string | null;
  createdAt: Date;
}

const MUST_NOT_GO_NEGATIVE: Record<(typeof MEMBER_ACCOUNT_TYPES)[number], boolean> = {
  CASH: true,
  MARGIN: true,
  ESCROW: true,
  PENDING: true,
  GUARANTEE: true,
};

@Injectable()
export class LedgerRepository {
  async createMemberAccounts(db: Db, memberId: string): Promise<void> {
    await db.ledgerAccount.createMany({
      data: MEMBER_ACCOUNT_TYPES.map((type) => ({
        code: memberAccount(memberId, type),
        memberId,
        type,
        mustNotGoNegative: MUST_NOT_GO_NEGATIVE[type],
      })),
      skipDuplicates: true,
    });
  }

  async accountsByCode(db: Db, codes: string[]): Promise<Map<string, AccountRow>> {
    const rows = await db.$queryRaw<AccountRow[]>`
      SELECT id, code, type FROM ledger_accounts WHERE code = ANY(${codes}::text[])`;
    return new Map(rows.map((r) => [r.code, r]));
  }

  /**
   * The touched accounts, row-locked in id order in the same statement: concurrent postings
   * queue up instead of deadlocking, and the guarded update below sees settled balances.
   */
  async lockAccountsByCode(db: RawSql, codes: string[]): Promise<Map<string, AccountRow>> {
    const rows = await db.$queryRaw<AccountRow[]>`
      SELECT id, code, type FROM ledger_accounts WHERE code = ANY(${codes}::text[]) ORDER BY id FOR UPDATE`;
    return new Map(rows.map((r) => [r.code, r]));
  }

  /**
   * Inserts the transfers (skipping keys already posted), then locks the accounts they move in id
   * order and applies their net effect to the balances — one statement. The locks come last, so
   * a posting holds its accounts only for the update and its commit, not while its rows are
   * written: concurrent postings over the same accounts queue for a moment instead of a convoy.
   * Taken in one order, they never deadlock; the guarded update re-reads a balance another
   * posting changed while this one waited. A posting that would take an account that must not go
   * negative below zero (INSUFFICIENT_FUNDS), or names an unknown account (ACCOUNT_NOT_FOUND),
   * fails the statement itself (`ledger_refuse`), so nothing of it can commit.
   */
  async insertAndApply(db: RawSql, rows: TransferRequest[]): Promise<PostOutcome> {
    // Each column goes as one array literal (see pgArray): a batch of 20,000 transfers is a
    // dozen strings to bind, not a quarter of a million values.
    const col = <T extends string | bigint | boolean | null>(f: (t: TransferRequest) => T) => pgArray(rows.map(f));
    const keys = col((t) => t.idempotencyKey);
    const debits = col((t) => t.debit);
    const credits = col((t) => t.credit);
    const codes = pgArray([...new Set(rows.flatMap((t) => [t.debit, t.credit]))]);
    const amounts = col((t) => t.amountFen);
    const kinds = col((t) => t.kind as string);
    const dates = col((t) => t.businessDate);
    // A column that is null in every row goes as one NULL (unnest pads it with nulls): most
    // batches fill one or two of these, and each array costs its length to send and parse.
    const optional = <T extends string | boolean>(f: (t: TransferRequest) => T | undefined) =>
      rows.some((t) => f(t) !== undefined) ? col((t) => f(t) ?? null) : null;
    const runs = optional((t) => t.refs?.settlementRunId);
    const trades = optional((t) => t.refs?.tradeId);
    const obligations = optional((t) => t.refs?.obligationId);
    const jobs = optional((t) => t.refs?.jobId);
    const withdrawals = optional((t) => t.refs?.withdrawalId);
    const references = optional((t) => t.reference);
    // Collected by right (a default's waterfall, settlement) where set; null reads as false.
    const forced = optional((t) => (t.collectByRight === true ? true : undefined));
    const [outcome] = await refusalsAsDomainErrors(db.$queryRaw<PostOutcome[]>`
      WITH input AS (
        SELECT gen_random_uuid() AS id, t.key, d.id AS debit, c.id AS credit, t.amount, t.kind, t.bdate, t.run, t.trade, t.obligation, t.job, t.withdrawal, t.reference, coalesce(t.forced, false) AS forced, t.n
        FROM unnest(
          ${keys}::text[], ${debits}::text[], ${credits}::text[], ${amounts}::bigint[], ${kinds}::text[],
          ${dates}::date[], ${runs}::uuid[], ${trades}::uuid[], ${obligations}::uuid[], ${jobs}::uuid[],
          ${withdrawals}::uuid[], ${references}::text[], ${forced}::boolean[]
        ) WITH ORDINALITY AS t(key, debit_code, credit_code, amount, kind, bdate, run, trade, obligation, job, withdrawal, reference, forced, n)
        -- Ids by the unique code index, unlocked: accounts are never deleted, and a code that
        -- names none drops its row here and fails the statement below (\`missing\`).
        JOIN ledger_accounts d ON d.code = t.debit_code
        JOIN ledger_accounts c ON c.code = t.credit_code
      ),
      -- transfers is partitioned by month, so its keys are unique in transfer_keys: a key already
      -- there (any month, archived or not) is a replay and posts nothing.
      -- The ids are drawn in \`input\` (materialised: each row keeps its id), so the transfer is
      -- found from its key by a semi-join, not a sorted join of the two.
      -- Keys are claimed in one order (bytewise) whatever the batch's order: a posting that meets
      -- a key another is writing waits for it, and two that share keys (a replay racing its
      -- original) would otherwise each hold one the other waits for. No account is locked yet.
      claimed AS (
        INSERT INTO transfer_keys ("idempotencyKey", "transferId", "createdAt")
        SELECT key, id, now() FROM input ORDER BY key COLLATE "C"
        ON CONFLICT ("idempotencyKey") DO NOTHING
        RETURNING "idempotencyKey"
      ),
      ins AS (
        INSERT INTO transfers (id, "createdAt", "idempotencyKey", "debitAccountId", "creditAccountId", "amountFen", kind, "businessDate",
                               "settlementRunId", "tradeId", "obligationId", "jobId", "withdrawalId", reference)
        SELECT id, now(), key, debit, credit, amount, kind::"TransferKind", bdate, run, trade, obligation, job, withdrawal, reference
        FROM input WHERE key IN (SELECT "idempotencyKey" FROM claimed)
        -- Transfers take their sequence numbers in the order they were asked for.
        ORDER BY n
        RETURNING "idempotencyKey", "debitAccountId", "creditAccountId", "amountFen"
      ),
      moves AS (
        SELECT i."debitAccountId" AS account, -i."amountFen" AS delta, inp.forced AS allow
          FROM ins i JOIN input inp ON inp.key = i."idempotencyKey"
        UNION ALL
        SELECT i."creditAccountId", i."amountFen", true FROM ins i
      ),
      net AS (
        SELECT account, sum(delta)::bigint AS delta, bool_and(allow) AS allow FROM moves GROUP BY account
      ),
      -- The accounts moved, locked in id order once the rows are written (LockRows over the sort).
      locked AS (
        SELECT a.id FROM ledger_accounts a WHERE a.id IN (SELECT account FROM net) ORDER BY a.id FOR UPDATE
      ),
      applied AS (
        UPDATE ledger_accounts a SET "balanceFen" = a."balanceFen" + net.delta
        FROM net
        -- An InitPlan: every lock is taken before the update reads its first account.
        WHERE (SELECT count(*) FROM locked) >= 0
          AND a.id = net.account
          AND (net.delta >= 0 OR NOT a."mustNotGoNegative" OR a."balanceFen" + net.delta >= 0
               OR (net.allow AND a.type = 'CASH'))
        RETURNING a.id
      )
      -- A refusal fails the statement (ledger_refuse raises): nothing of it can ever commit.
      SELECT inserted,
             CASE WHEN missing IS NOT NULL THEN ledger_refuse('TCA01', missing[1])
                  WHEN refused IS NOT NULL THEN ledger_refuse('TCF01', 'would take ' || array_to_string(refused, ', ') || ' below zero')
             END AS refused
      FROM (SELECT (SELECT count(*) FROM ins)::int AS inserted,
                   (SELECT array_agg(a.code ORDER BY a.code) FROM net JOIN ledger_accounts a ON a.id = net.account
                     WHERE net.account NOT IN (SELECT id FROM applied)) AS refused,
                   (SELECT array_agg(x.code ORDER BY x.code) FROM unnest(${codes}::text[]) AS x(code) WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.code = x.code)) AS missing) o`);
    return outcome;
  }

  async findByKeys(db: RawSql, keys: string[]): Promise<PostedTransfer[]> {
    const rows = await db.$queryRaw<TransferRow[]>`
      SELECT t.id, t.seq::text AS seq, t."idempotencyKey", d.code AS debit, c.code AS credit, t."amountFen"::text AS "amountFen", t.kind, t."businessDate"::text AS "businessDate",
             t."settlementRunId", t."tradeId", t."obligationId", t."jobId", t."withdrawalId", t.reference, t."createdAt"
      -- By the key table: transfers has no index on the key; (id, createdAt) finds the partition.
      FROM transfer_keys k JOIN transfers t ON t.id = k."transferId" AND t."createdAt" = k."createdAt"
      JOIN ledger_accounts d ON d.id = t."debitAccountId" JOIN ledger_accounts c ON c.id = t."creditAccountId"
      WHERE k."idempotencyKey" = ANY(${keys}::text[])
      ORDER BY t.seq`;
    return rows.map(toPosted);
  }

  async listForAccounts(
    db: Db,
    accountIds: string[],
    filter: { kinds?: TransferKind[]; from?: string; to?: string; beforeSeq?: bigint; limit: number },
  ): Promise<PostedTransfer[]> {
    const kinds = filter.kinds ?? null;
    const rows = await db.$queryRaw<TransferRow[]>`
      SELECT t.id, t.seq::text AS seq, t."idempotencyKey", d.code AS debit, c.code AS credit, t."amountFen"::text AS "amountFen", t.kind, t."businessDate"::text AS "businessDate",
             t."settlementRunId", t."tradeId", t."obligationId", t."jobId", t."withdrawalId", t.reference, t."createdAt"
      FROM transfers t JOIN ledger_accounts d ON d.id = t."debitAccountId" JOIN ledger_accounts c ON c.id = t."creditAccountId"
      WHERE (t."debitAccountId" = ANY(${accountIds}::uuid[]) OR t."creditAccountId" = ANY(${accountIds}::uuid[]))
        AND (${kinds}::text[] IS NULL OR t.kind::text = ANY(${kinds}::text[]))
        AND (${filter.from ?? null}::date IS NULL OR t."businessDate" >= ${filter.from ?? null}::date)
        AND (${filter.to ?? null}::date IS NULL OR t."businessDate" <= ${filter.to ?? null}::date)
        AND (${filter.beforeSeq ?? null}::bigint IS NULL OR t.seq < ${filter.beforeSeq ?? null}::bigint)
      ORDER BY t.seq DESC
      LIMIT ${filter.limit + 1}`;
    return rows.map(toPosted);
  }

  memberAccounts(db: Db, memberId: string) {
    return db.ledgerAccount.findMany({ where: { memberId }, select: { id: true, code: true, type: true, balanceFen: true } });
  }

  /** One page of every account in code order (codes are unique), after `afterCode`: limit + 1 rows. */
  accountsPage(db: Db, q: { afterCode?: string; limit: number }) {
    return db.ledgerAccount.findMany({
      where: q.afterCode === undefined ? {} : { code: { gt: q.afterCode } },
      select: { code: true, balanceFen: true, type: true, memberId: true },
      orderBy: { code: 'asc' },
      take: q.limit + 1,
    });
  }

  /** The sum of every account's balance: 0 when the ledger balances. */
  async totalBalanceFen(db: Db): Promise<bigint> {
    const { _sum } = await db.ledgerAccount.aggregate({ _sum: { balanceFen: true } });
    return _sum.balanceFen ?? 0n;
  }

  /** Balance of each of a member's accounts at the end of a business date, from transfers alone. */
  async balancesAsOf(db: Db, memberId: string, businessDate: string): Promise<{ type: AccountType; balanceFen: bigint }[]> {
    return db.$queryRaw`
      SELECT a.type,
             (COALESCE((SELECT sum("amountFen") FROM transfers WHERE "creditAccountId" = a.id AND "businessDate" <= ${businessDate}::date), 0)
            - COALESCE((SELECT sum("amountFen") FROM transfers WHERE "debitAccountId" = a.id AND "businessDate" <= ${businessDate}::date), 0))::bigint AS "balanceFen"
      FROM ledger_accounts a WHERE a."memberId" = ${memberId}::uuid ORDER BY a.type`;
  }
}

function toPosted(r: TransferRow): PostedTransfer {
  return {
    id: r.id,
    seq: BigInt(r.seq),
    idempotencyKey: r.idempotencyKey,
    debit: r.debit,
    credit: r.credit,
    amountFen: BigInt(r.amountFen),
    kind: r.kind,
    businessDate: r.businessDate,
    refs: {
      ...(r.settlementRunId ? { settlementRunId: r.settlementRunId } : {}),
      ...(r.tradeId ? { tradeId: r.tradeId } : {}),
      ...(r.obligationId ? { obligationId: r.obligationId } : {}),
      ...(r.jobId ? { jobId: r.jobId } : {}),
      ...(r.withdrawalId ? { withdrawalId: r.withdrawalId } : {}),
    },
    reference: r.reference,
    createdAt: r.createdAt,
  };
}

/** The ledger statement's refusals (raised by `ledger_refuse`, see its migration) as the errors callers know. */
async function refusalsAsDomainErrors<T>(statement: PromiseLike<T>): Promise<T> {
  try {
    return await statement;
  } catch (err) {
    const pg = postgresError(err);
    if (pg?.code === 'TCF01') throw new DomainError('INSUFFICIENT_FUNDS', pg.message);
    if (pg?.code === 'TCA01') throw unknownAccount(pg.message);
    throw err;
  }
}

export function unknownAccount(code: string): DomainError {
  return new DomainError('ACCOUNT_NOT_FOUND', `no ledger account ${code}`);
}
