/** One difference a check found: becomes (or keeps open) a Break. */
export interface Difference {
  type: CheckName;
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
  'DEFAULT_FUND',
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];
