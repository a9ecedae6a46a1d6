import type { SettlementRunView } from '../../settlement/settlement-run.view';

/** Shapes the console reads from the API (only the fields it shows). */
export interface Me {
  memberId: string;
  role: string;
  keyId: string;
}

export type Run = SettlementRunView;

export interface Break {
  id: string;
  type: string;
  memberId: string | null;
  expected: string;
  actual: string;
  difference: string;
  references: Record<string, string>;
  status: string;
  age: string;
  key: string;
}

export interface Adjustment {
  id: string;
  debitAccount: string;
  creditAccount: string;
  amount: string;
  reason: string;
  status: string;
  payloadHash: string;
  proposedByKeyId: string;
  breakId: string | null;
}
