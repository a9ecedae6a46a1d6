// The CCP-wide checks of money outside the ledger's own invariants: bank files, the default fund
// and the token index chain (one set-based statement or two each, like every check).
import { firstBrokenLink, fixingHash } from '../indices/domain/fixing.js';
import { formatFen } from '../platform/money/money.js';
import { isoDate } from '../platform/time/business-date.js';
import type { Db } from '../platform/prisma/prisma.service.js';
import type { CheckResult, Difference } from './checks.js';

// A break's expected, actual and difference are VARCHAR(100): a longer description (an entry's
// detail is up to 300) must not fail the whole reconciliation run.
const clip = (s: string) => (s.length > 100 ? `${s.slice(0, 99)}…` : s);

/**
 * The bank against our records: statement entries that matched nothing, matched with another
 * amount or direction, or were booked twice (until a clearing user resolves them), and payment
 * instructions the bank has not confirmed two days after their date.
 */
export async function bankStatement(db: Db): Promise<CheckResult> {
  const entries = await db.$queryRaw<
    {
      id: string;
      bankRef: string;
      endToEndId: string | null;
      direction: string;
      amountFen: bigint;
      status: string;
      detail: string | null;
      memberId: string | null;
    }[]
  >`
    SELECT e.id, e."bankRef", e."endToEndId", e.direction, e."amountFen", e.status::text AS status, e.detail, pi."memberId"
    FROM bank_statement_entries e LEFT JOIN payment_instructions pi ON pi."endToEndId" = e."endToEndId"
    WHERE e.status IN ('UNMATCHED', 'MISMATCH', 'DUPLICATE')
      AND NOT EXISTS (SELECT 1 FROM breaks b WHERE b.type = 'BANK_STATEMENT' AND b.key = e.id::text AND b.status = 'RESOLVED')`;
  const late = await db.$queryRaw<{ id: string; memberId: string; endToEndId: string; direction: string; amountFen: bigint }[]>`
    SELECT id, "memberId", "endToEndId", direction::text AS direction, "amountFen" FROM payment_instructions
    WHERE status IN ('INSTRUCTED', 'ACCEPTED') AND "businessDate" < current_date - 2`;
  // Statements whose opening balance plus their entries is not the closing balance they state.
  const unbalanced = await db.$queryRaw<{ id: string; statementId: string; closingFen: bigint; computedClosingFen: bigint }[]>`
    SELECT s.id, s."statementId", s."closingFen", s."computedClosingFen" FROM bank_statements s
    WHERE s."closingFen" IS DISTINCT FROM s."computedClosingFen" AND s."computedClosingFen" IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM breaks b WHERE b.type = 'STATEMENT_BALANCE' AND b.key = s.id::text AND b.status = 'RESOLVED')`;
  // What the bank's pain.002 reports said that needs a person: rejections (returned to the member), unknown or contradicting statuses.
  const statuses = await db.$queryRaw<
    {
      id: string;
      endToEndId: string;
      status: string | null;
      reasonCode: string | null;
      reasonInfo: string | null;
      outcome: string;
      memberId: string | null;
      amountFen: bigint | null;
      detail: string | null;
      messageId: string;
    }[]
  >`
    SELECT e.id, e."endToEndId", e.status, e."reasonCode", e."reasonInfo", e.outcome::text AS outcome, e."memberId", e."amountFen", e.detail, r."messageId"
    FROM payment_status_entries e JOIN payment_status_reports r ON r.id = e."reportId"
    WHERE e.outcome IN ('RETURNED', 'UNKNOWN', 'CONFLICT')
      AND NOT EXISTS (SELECT 1 FROM breaks b WHERE b.type IN ('PAYMENT_REJECTED', 'PAYMENT_STATUS') AND b.key = e.id::text AND b.status = 'RESOLVED')`;
  const [{ n }] = await db.$queryRaw<
    { n: bigint }[]
  >`SELECT (SELECT count(*) FROM bank_statement_entries) + (SELECT count(*) FROM payment_instructions)
      + (SELECT count(*) FROM bank_statements) + (SELECT count(*) FROM payment_status_entries) AS n`;
  return {
    name: 'BANK_STATEMENT',
    rowsExamined: Number(n),
    differences: [
      ...unbalanced.map((s): Difference => ({
        type: 'STATEMENT_BALANCE',
        key: s.id,
        memberId: null,
        unit: 'CNY',
        expected: formatFen(s.computedClosingFen),
        actual: formatFen(s.closingFen),
        difference: formatFen(s.closingFen - s.computedClosingFen),
        references: { bankStatementId: s.id, statementId: s.statementId },
      })),
      ...statuses.map((e): Difference => {
        const references = { endToEndId: e.endToEndId, reasonCode: e.reasonCode, reasonInfo: e.reasonInfo, statusReport: e.messageId };
        return e.outcome === 'RETURNED'
          ? {
              type: 'PAYMENT_REJECTED',
              key: e.id,
              memberId: e.memberId,
              unit: 'CNY',
              expected: `${formatFen(e.amountFen ?? 0n)} paid to the member's bank account`,
              actual: `RJCT ${e.reasonCode ?? ''}`.trim(),
              difference: formatFen(e.amountFen ?? 0n),
              references,
            }
          : {
              type: 'PAYMENT_STATUS',
              key: e.id,
              memberId: e.memberId,
              unit: 'ENTRY',
              expected: 'a status for a payment we instructed',
              actual: `${e.status ?? 'no status'} ${e.endToEndId}`,
              difference: clip(`${e.outcome}: ${e.detail ?? ''}`.trim()),
              references,
            };
      }),
      ...entries.map((e): Difference => ({
        type: 'BANK_STATEMENT',
        key: e.id,
        memberId: e.memberId,
        unit: 'ENTRY',
        expected: e.status === 'DUPLICATE' ? 'booked once' : 'a matching instruction or deposit',
        actual: `${e.direction} ${formatFen(e.amountFen)} CNY`,
        difference: clip(`${e.status}: ${e.detail ?? ''}`.trim()),
        references: { bankRef: e.bankRef, endToEndId: e.endToEndId },
      })),
      ...late.map((i): Difference => ({
        type: 'BANK_STATEMENT',
        key: `instruction:${i.id}`,
        memberId: i.memberId,
        unit: 'CNY',
        expected: `${i.direction} ${formatFen(i.amountFen)} confirmed by the bank`,
        actual: 'not on any statement',
        difference: formatFen(i.amountFen),
        references: { endToEndId: i.endToEndId },
      })),
    ],
  };
}

/**
 * Default management balances (SPEC §6.4): every waterfall step passes through `ccp:default` in
 * the close-out's one transaction, so the account holds nothing between defaults; and each
 * completed default's recorded steps add up to the loss it says they covered.
 */
export async function defaultFund(db: Db): Promise<CheckResult> {
  const [acct] = await db.$queryRaw<
    { balance: bigint }[]
  >`SELECT COALESCE(sum("balanceFen"), 0)::bigint AS balance FROM ledger_accounts WHERE code = 'ccp:default'`;
  const defaults = await db.$queryRaw<{ id: string; memberId: string; covered: bigint; steps: bigint }[]>`
    SELECT d.id, d."memberId", COALESCE(d."coveredFen", 0)::bigint AS covered, COALESCE((SELECT sum("amountFen") FROM default_waterfall_steps s WHERE s."defaultId" = d.id), 0)::bigint AS steps
    FROM member_defaults d WHERE d.status = 'COMPLETED'`;
  const unbalanced = defaults.filter((d) => d.covered !== d.steps);
  return {
    name: 'DEFAULT_FUND',
    rowsExamined: defaults.length + 1,
    differences: [
      ...(acct.balance === 0n
        ? []
        : [
            {
              type: 'DEFAULT_FUND' as const,
              key: 'account:ccp:default',
              memberId: null,
              unit: 'CNY' as const,
              expected: '0.00',
              actual: formatFen(acct.balance),
              difference: formatFen(acct.balance),
              references: { account: 'ccp:default' },
            },
          ]),
      ...unbalanced.map((d): Difference => ({
        type: 'DEFAULT_FUND',
        key: `default:${d.id}`,
        memberId: d.memberId,
        unit: 'CNY',
        expected: formatFen(d.covered),
        actual: formatFen(d.steps),
        difference: formatFen(d.steps - d.covered),
        references: { defaultId: d.id },
      })),
    ],
  };
}

/**
 * Each token index's published fixings, in chain order, recomputed link by link (SHA-256 over the
 * content and the previous hash, src/indices/domain/fixing.ts): the first link that does not
 * match is a break — a fixing edited or removed behind the database's immutability trigger.
 */
export async function indexChain(db: Db): Promise<CheckResult> {
  const rows = await db.$queryRaw<
    {
      id: string;
      indexCode: string;
      businessDate: Date;
      priceFen: bigint;
      method: string;
      volumeTokens: bigint;
      inputs: unknown;
      correctsId: string | null;
      reason: string | null;
      chainSeq: bigint | null;
      prevHash: string | null;
      hash: string | null;
    }[]
  >`
    SELECT id, "indexCode", "businessDate", "priceFen", method, "volumeTokens", inputs, "correctsId", reason, "chainSeq", "prevHash", hash
    FROM token_index_fixings WHERE status = 'PUBLISHED' OR "chainSeq" IS NOT NULL
    ORDER BY "indexCode", "chainSeq" NULLS LAST, id`;
  const byIndex = new Map<string, typeof rows>();
  for (const r of rows) byIndex.set(r.indexCode, [...(byIndex.get(r.indexCode) ?? []), r]);
  const differences: Difference[] = [];
  for (const [indexCode, chain] of byIndex) {
    const links = chain.map((r) => ({ ...r, businessDate: isoDate(r.businessDate) }));
    const broken = firstBrokenLink(links);
    if (!broken) continue;
    const at = links.indexOf(broken);
    differences.push({
      type: 'INDEX_CHAIN',
      key: `${indexCode}:${broken.id}`,
      memberId: null,
      unit: 'HASH',
      // The hash the link should carry after the chain before it.
      expected: fixingHash(at === 0 ? null : links[at - 1].hash, broken),
      actual: broken.hash ?? 'no hash',
      difference: 'fixing changed, removed or inserted after publication',
      references: {
        indexCode,
        fixingId: broken.id,
        businessDate: broken.businessDate,
        chainSeq: broken.chainSeq?.toString() ?? null,
      },
    });
  }
  return { name: 'INDEX_CHAIN', rowsExamined: rows.length, differences };
}
