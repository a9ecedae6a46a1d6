import type { PaymentInstruction, Transfer } from '../../generated/prisma/client.js';
import type { BankEntryStatus } from '../../generated/prisma/enums.js';
import { formatFen } from '../../platform/money/money.js';
import { isoDate } from '../../platform/time/business-date.js';
import type { StatementEntry } from './camt053.js';

/** What a statement's entries can match, loaded once per file. */
export interface Counterparts {
  /** Bank references already booked (this file's entries join as they are decided). */
  bankRefs: Set<string>;
  instructions: Map<string, PaymentInstruction>;
  deposits: Map<string, Transfer>;
}

export interface EntryDecision {
  outcome: { status: BankEntryStatus; matchedType?: string; matchedId?: string; detail?: string };
  /** The instruction the entry confirms. */
  confirm?: string;
  /** The collection to post as the member's deposit. */
  collect?: { memberId: string; amountFen: bigint; reference: string };
}

export function counterparts(booked: string[], instructions: PaymentInstruction[], deposits: Transfer[]): Counterparts {
  return {
    bankRefs: new Set(booked),
    instructions: new Map(instructions.map((i) => [i.endToEndId, i])),
    deposits: new Map(deposits.map((d) => [d.reference!, d])),
  };
}

/**
 * What one entry is, from what the file's entries can match (no query): the outcome to record,
 * and the instruction to confirm or the collection to post, if any. Marks what it consumes in
 * `known`, so a second entry for the same thing in one file reads as a duplicate.
 */
export function matchEntry(e: StatementEntry, known: Counterparts): EntryDecision {
  const decision = decide(e, known);
  known.bankRefs.add(e.bankRef);
  return decision;
}

function decide(e: StatementEntry, known: Counterparts): EntryDecision {
  if (known.bankRefs.has(e.bankRef)) return { outcome: { status: 'DUPLICATE', detail: `bank reference ${e.bankRef} was already booked` } };
  if (!e.endToEndId) return { outcome: { status: 'UNMATCHED', detail: 'no end-to-end id' } };
  const instruction = known.instructions.get(e.endToEndId);
  if (instruction?.status === 'CONFIRMED')
    return {
      outcome: {
        status: 'DUPLICATE',
        matchedType: 'PAYMENT_INSTRUCTION',
        matchedId: instruction.id,
        detail: `instruction ${e.endToEndId} was already confirmed`,
      },
    };
  if (instruction?.status === 'REJECTED')
    return {
      outcome: {
        status: 'MISMATCH',
        matchedType: 'PAYMENT_INSTRUCTION',
        matchedId: instruction.id,
        detail: 'rejected by the bank (pain.002) and returned to the member',
      },
    };
  if (instruction) {
    const expected = instruction.direction === 'PAY' ? 'DBIT' : 'CRDT';
    if (e.direction !== expected || e.amountFen !== instruction.amountFen) {
      return {
        outcome: {
          status: 'MISMATCH',
          matchedType: 'PAYMENT_INSTRUCTION',
          matchedId: instruction.id,
          detail: `instructed ${expected} ${formatFen(instruction.amountFen)}, booked ${e.direction} ${formatFen(e.amountFen)}`,
        },
      };
    }
    instruction.status = 'CONFIRMED'; // a second entry for it in this file is a duplicate
    if (instruction.direction === 'COLLECT') {
      // matchedId: the deposit's transfer, filled in once the collections are posted.
      return {
        outcome: { status: 'POSTED', matchedType: 'DEPOSIT', detail: `collection for ${isoDate(instruction.businessDate)}` },
        confirm: instruction.id,
        collect: { memberId: instruction.memberId, amountFen: e.amountFen, reference: e.endToEndId },
      };
    }
    return { outcome: { status: 'MATCHED', matchedType: 'PAYMENT_INSTRUCTION', matchedId: instruction.id }, confirm: instruction.id };
  }
  if (e.direction === 'CRDT') {
    const deposit = known.deposits.get(e.endToEndId);
    if (deposit) {
      if (deposit.amountFen !== e.amountFen)
        return {
          outcome: {
            status: 'MISMATCH',
            matchedType: 'DEPOSIT',
            matchedId: deposit.id,
            detail: `deposit recorded ${formatFen(deposit.amountFen)}, booked ${formatFen(e.amountFen)}`,
          },
        };
      return { outcome: { status: 'MATCHED', matchedType: 'DEPOSIT', matchedId: deposit.id } };
    }
  }
  return { outcome: { status: 'UNMATCHED', detail: `no instruction or deposit with end-to-end id ${e.endToEndId}` } };
}
