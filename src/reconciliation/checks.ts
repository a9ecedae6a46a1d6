/** One difference a check found: becomes (or keeps open) a Break. */
export interface Difference {
  type: BreakType;
  /** Identity of the difference within its type, stable across runs. */
  key: string;
  memberId: string | null;
  unit: 'CNY' | 'TOKENS' | 'CONTRACTS' | 'HASH' | 'JOB' | 'ENTRY';
  expected: string;
  actual: string;
  difference: string;
  references: Record<string, string | null>;
}

export interface CheckResult {
  name: CheckName;
  rowsExamined: number;
  differences: Difference[];
}

export const CHECK_NAMES = [
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
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

/**
 * Breaks a check can open besides its own name: the bank statement check also reports statements
 * whose balances do not add up and the bank's payment status reports (rejections, unknown ids).
 */
export const BREAK_TYPES = [...CHECK_NAMES, 'STATEMENT_BALANCE', 'PAYMENT_REJECTED', 'PAYMENT_STATUS'] as const;
export type BreakType = (typeof BREAK_TYPES)[number];
