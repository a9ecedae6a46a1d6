import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CashService } from '../../src/ledger/cash.service.js';
import { LedgerService } from '../../src/ledger/ledger.service.js';
import { HOUSE, memberAccount, type MemberAccountType, type TransferRequest } from '../../src/ledger/ledger.types.js';
import { MembersService } from '../../src/members/members.service.js';
import { DomainError } from '../../src/platform/errors/error-codes.js';
import type { Principal } from '../../src/platform/http/request-context.js';
import { expectLedgerConsistent } from '../harness/ledger-checks.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

// A reference model of the ledger in plain bigint arithmetic, compared with the real one
// (Postgres, row locks, set-based posting) after every operation of random sequences.

type Op =
  | { op: 'deposit'; m: number; fen: bigint }
  | { op: 'withdraw'; m: number; fen: bigint }
  | { op: 'decide'; m: number; approve: boolean }
  | { op: 'move'; from: [number, MemberAccountType]; to: [number, MemberAccountType]; fen: bigint }
  | { op: 'collect'; m: number; fen: bigint }
  | { op: 'batch'; moves: { from: [number, MemberAccountType]; to: [number, MemberAccountType]; fen: bigint }[] };

const MEMBERS = 3;
const account = fc.tuple(fc.integer({ min: 0, max: MEMBERS - 1 }), fc.constantFrom<MemberAccountType>('CASH', 'MARGIN', 'ESCROW'));
const fen = fc.bigInt({ min: 1n, max: 5_000n });
const move = fc.record({ from: account, to: account, fen }).filter((m) => m.from[0] !== m.to[0] || m.from[1] !== m.to[1]);
const member = fc.integer({ min: 0, max: MEMBERS - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('deposit' as const), m: member, fen }),
  fc.record({ op: fc.constant('withdraw' as const), m: member, fen }),
  fc.record({ op: fc.constant('decide' as const), m: member, approve: fc.boolean() }),
  move.map((m) => ({ op: 'move' as const, ...m })),
  fc.record({ op: fc.constant('collect' as const), m: member, fen }),
  fc.array(move, { minLength: 1, maxLength: 5 }).map((moves) => ({ op: 'batch' as const, moves })),
);

describe('ledger invariants under random operation sequences (fast-check, real Postgres)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('keeps Σ balances = 0, each balance = Σ its transfers, no forbidden negatives, and refused operations change nothing', async () => {
    const ledger = t.app.get(LedgerService);
    const cash = t.app.get(CashService);
    const membersService = t.app.get(MembersService);
    let run = 0;

    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        run++;
        const ids = await Promise.all(
          Array.from({ length: MEMBERS }, (_, i) => membersService.create(`prop-${run}-${i}`, 'TRADER').then((m) => m.id)),
        );
        // Withdrawals pay to a verified account (SPEC §6.5); that flow has its own tests.
        await t.prisma.bankAccount.createMany({
          data: ids.map((memberId, i) => ({
            memberId,
            bankCode: '105100000017',
            accountNumber: `6222${run}${i}`,
            holderName: `prop ${i}`,
            status: 'VERIFIED' as const,
            proposedByKeyId: randomUUID(),
          })),
        });
        const model = new Map<string, bigint>();
        const bal = (code: string) => model.get(code) ?? 0n;
        const code = ([i, type]: [number, MemberAccountType]) => memberAccount(ids[i], type);
        const pending: Record<number, { id: string; fen: bigint }[]> = {};
        let n = 0;
        const key = () => `prop-${run}-${n++}`;
        const businessDate = '2026-12-01';

        // Applies a list of moves to the model if every must-not-go-negative account stays ≥ 0.
        const tryModel = (moves: { debit: string; credit: string; fen: bigint; forced?: boolean }[]): boolean => {
          const next = new Map(model);
          for (const mv of moves) {
            next.set(mv.debit, (next.get(mv.debit) ?? 0n) - mv.fen);
            next.set(mv.credit, (next.get(mv.credit) ?? 0n) + mv.fen);
          }
          for (const [c, v] of next) {
            const guarded = c.startsWith('member:');
            const delta = v - bal(c);
            const forcedCash = c.endsWith(':cash') && moves.filter((m) => m.debit === c).every((m) => m.forced);
            if (guarded && delta < 0n && v < 0n && !forcedCash) return false;
          }
          for (const [c, v] of next) model.set(c, v);
          return true;
        };
        const expectRefused = async (p: Promise<unknown>) => {
          await expect(p).rejects.toSatisfy((e: unknown) => e instanceof DomainError && e.code === 'INSUFFICIENT_FUNDS');
        };

        for (const op of ops) {
          const transfersBefore = await t.prisma.transfer.count();
          let refused = false;
          const principal = (m: number): Principal => ({ memberId: ids[m], memberKind: 'TRADER', role: 'trader', keyId: randomUUID() });
          if (op.op === 'deposit') {
            tryModel([{ debit: HOUSE.bankSettlement, credit: memberAccount(ids[op.m], 'CASH'), fen: op.fen }]);
            await cash.deposit(ids[op.m], op.fen, key());
          } else if (op.op === 'withdraw') {
            const ok = tryModel([{ debit: memberAccount(ids[op.m], 'CASH'), credit: memberAccount(ids[op.m], 'PENDING'), fen: op.fen }]);
            if (ok) (pending[op.m] ??= []).push({ id: (await cash.requestWithdrawal(principal(op.m), ids[op.m], op.fen)).id, fen: op.fen });
            else {
              refused = true;
              await expectRefused(cash.requestWithdrawal(principal(op.m), ids[op.m], op.fen));
            }
          } else if (op.op === 'decide') {
            const w = pending[op.m]?.shift();
            if (!w) continue;
            tryModel([
              {
                debit: memberAccount(ids[op.m], 'PENDING'),
                credit: op.approve ? HOUSE.bankSettlement : memberAccount(ids[op.m], 'CASH'),
                fen: w.fen,
              },
            ]);
            await cash.decide(principal(op.m), w.id, op.approve ? 'APPROVED' : 'REJECTED');
          } else if (op.op === 'collect') {
            tryModel([{ debit: memberAccount(ids[op.m], 'CASH'), credit: HOUSE.ccpSettlement, fen: op.fen, forced: true }]);
            await t.prisma.$transaction((tx) =>
              ledger.post(tx, [
                {
                  idempotencyKey: key(),
                  debit: memberAccount(ids[op.m], 'CASH'),
                  credit: HOUSE.ccpSettlement,
                  amountFen: op.fen,
                  kind: 'VARIATION_MARGIN',
                  businessDate,
                  collectByRight: true,
                },
              ]),
            );
          } else {
            const moves = op.op === 'move' ? [op] : op.moves;
            const requests: TransferRequest[] = moves.map((m) => ({
              idempotencyKey: key(),
              debit: code(m.from),
              credit: code(m.to),
              amountFen: m.fen,
              kind: 'ADJUSTMENT',
              businessDate,
            }));
            const ok = tryModel(requests.map((r) => ({ debit: r.debit, credit: r.credit, fen: r.amountFen })));
            const posting = t.prisma.$transaction(async (tx): Promise<unknown> =>
              op.op === 'batch' ? ledger.postBatch(tx, requests) : ledger.post(tx, requests),
            );
            if (ok) await posting;
            else {
              refused = true;
              await expectRefused(posting);
            }
          }
          if (refused) expect(await t.prisma.transfer.count()).toBe(transfersBefore);

          const actual = await t.prisma.ledgerAccount.findMany({ where: { memberId: { in: ids } } });
          for (const a of actual) expect([a.code, a.balanceFen]).toEqual([a.code, bal(a.code)]);
          for (const a of actual) if (a.type !== 'CASH') expect(a.balanceFen >= 0n).toBe(true);
        }
        await expectLedgerConsistent(t.prisma);
      }),
      { numRuns: 40 },
    );
  }, 240_000);
});
