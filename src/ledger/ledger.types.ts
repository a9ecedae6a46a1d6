import type { AccountType, TransferKind } from '../generated/prisma/enums.js';

export const TRANSFER_KINDS = [
  'DEPOSIT',
  'WITHDRAWAL_HOLD',
  'WITHDRAWAL',
  'WITHDRAWAL_RELEASE',
  'MARGIN_LOCK',
  'MARGIN_RELEASE',
  'VARIATION_MARGIN',
  'FEE',
  'ESCROW_FUND',
  'ESCROW_RELEASE',
  'ESCROW_REFUND',
  'PENALTY',
  'ADJUSTMENT',
  'WITHDRAWAL_RETURN',
  'GUARANTEE_CONTRIBUTION',
  'CAPITAL',
  'DEFAULT_CLOSE_OUT',
  'DEFAULT_WATERFALL',
  'BUY_IN_PREMIUM',
] as const satisfies readonly TransferKind[];

export type MemberAccountType = Extract<AccountType, 'CASH' | 'MARGIN' | 'ESCROW' | 'PENDING' | 'GUARANTEE'>;
export const MEMBER_ACCOUNT_TYPES: readonly MemberAccountType[] = ['CASH', 'MARGIN', 'ESCROW', 'PENDING', 'GUARANTEE'];

export const HOUSE = {
  ccpSettlement: 'ccp:settlement',
  ccpFees: 'ccp:fees',
  ccpPenalties: 'ccp:penalties',
  bankSettlement: 'bank:settlement',
  /** The CCP's own capital: skin in the game, the waterfall's third layer (SPEC §6.4). */
  ccpCapital: 'ccp:capital',
  /** Default management: every waterfall step passes through it; zero once a default completes. */
  ccpDefault: 'ccp:default',
} as const;

export function memberAccount(memberId: string, type: MemberAccountType): string {
  return `member:${memberId}:${type.toLowerCase()}`;
}

export interface TransferRefs {
  settlementRunId?: string;
  tradeId?: string;
  obligationId?: string;
  jobId?: string;
  withdrawalId?: string;
}

/** One movement of money: `amountFen` leaves `debit` and arrives in `credit` (codes). */
export interface TransferRequest {
  idempotencyKey: string;
  debit: string;
  credit: string;
  amountFen: bigint;
  kind: TransferKind;
  businessDate: string;
  refs?: TransferRefs;
  reference?: string;
  /**
   * What the CCP collects by right (variation margin, delivery penalties, fees on settlement)
   * may take member CASH below zero — a margin call, never a refusal. Never margin or escrow.
   */
  collectByRight?: boolean;
}

export interface PostedTransfer {
  id: string;
  seq: bigint;
  idempotencyKey: string;
  debit: string;
  credit: string;
  amountFen: bigint;
  kind: TransferKind;
  businessDate: string;
  refs: TransferRefs;
  reference: string | null;
  createdAt: Date;
}

export interface BatchResult {
  requested: number;
  inserted: number;
  replayed: number;
}
