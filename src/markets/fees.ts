import { HOUSE, memberAccount, type TransferRequest } from '../ledger/ledger.types.js';
import type { NewTrade } from './markets.repository.js';

/**
 * A trade's fees, each side to `ccp:fees`. A member who chose the trade pays voluntarily (its
 * cash may not go below zero); the other side — a resting order's owner — is charged by right.
 */
export function feeTransfers(
  t: NewTrade,
  feePerContractFen: bigint,
  businessDate: string,
  chose: (memberId: string) => boolean,
): TransferRequest[] {
  if (feePerContractFen === 0n) return [];
  return (
    [
      ['buy', t.buyerId],
      ['sell', t.sellerId],
    ] as const
  ).map(([side, memberId]) => ({
    idempotencyKey: `trade.${t.id}.fee.${side}`,
    debit: memberAccount(memberId, 'CASH'),
    credit: HOUSE.ccpFees,
    amountFen: feePerContractFen * BigInt(t.quantity),
    kind: 'FEE',
    businessDate,
    refs: { tradeId: t.id },
    collectByRight: !chose(memberId),
  }));
}
