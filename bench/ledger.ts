// npm run bench:ledger — transfers/s through the ledger's batch API and single-transfer calls,
// uniform and hot-account, against pgbench TPC-B TPS on the same server in the same run.
import { LedgerRepository } from '../src/ledger/ledger.repository.js';
import { LedgerService } from '../src/ledger/ledger.service.js';
import { HOUSE, memberAccount, type TransferRequest } from '../src/ledger/ledger.types.js';
import { loadEnvConfig } from '../src/platform/config/config.js';
import { PrismaService } from '../src/platform/prisma/prisma.service.js';
import { machine, median, pgbenchInit, pgbenchTps, printTable, progress, scratchDatabase, writeResults, type Figure } from './lib.js';

const REPS = Number(process.env.BENCH_REPS ?? 3);
const BATCH_N = Number(process.env.BENCH_BATCH_N ?? 50_000);
const SINGLE_N = Number(process.env.BENCH_SINGLE_N ?? 2_000);
const CLIENTS = 8;
const MEMBERS = 1_000;
const DATE = '2026-12-01';

let keySeq = 0;
const key = (p: string) => `${p}-${keySeq++}`;

function transfers(ids: string[], n: number, hot: boolean): TransferRequest[] {
  const out: TransferRequest[] = [];
  for (let i = 0; i < n; i++) {
    const a = ids[(i * 7919) % ids.length];
    const b = ids[(i * 104_729 + 1) % ids.length];
    out.push({
      idempotencyKey: key(hot ? 'hot' : 'uni'),
      debit: memberAccount(a, 'CASH'),
      credit: hot ? HOUSE.ccpSettlement : memberAccount(b === a ? ids[(i + 1) % ids.length] : b, 'CASH'),
      amountFen: 1n,
      kind: hot ? 'VARIATION_MARGIN' : 'ADJUSTMENT',
      businessDate: DATE,
    });
  }
  return out;
}

async function main(): Promise<void> {
  const ledgerDb = await scratchDatabase(true);
  const pgbenchDb = await scratchDatabase(false);
  const prisma = new PrismaService({ ...loadEnvConfig({}), databaseUrl: ledgerDb.url, redisUrl: '' });
  try {
    progress(`setting up ${MEMBERS} members and pgbench (scale 10)`);
    await pgbenchInit(pgbenchDb.url, 10);
    const members = await prisma.$queryRaw<{ id: string }[]>`
      INSERT INTO members (id, name, kind, "updatedAt") SELECT gen_random_uuid(), 'bench-' || g, 'TRADER', now() FROM generate_series(1, ${MEMBERS}) g RETURNING id`;
    await prisma.$executeRaw`
      INSERT INTO ledger_accounts (id, code, "memberId", type, "mustNotGoNegative")
      SELECT gen_random_uuid(), 'member:' || m.id || ':' || lower(t::text), m.id, t::"AccountType", true
      FROM members m CROSS JOIN unnest(ARRAY['CASH','MARGIN','ESCROW','PENDING']) t`;
    const ids = members.map((m) => m.id);
    const ledger = new LedgerService(new LedgerRepository());
    await prisma.$transaction(
      (tx) =>
        ledger.postBatch(
          tx,
          ids.map((id) => ({
            idempotencyKey: key('fund'),
            debit: HOUSE.bankSettlement,
            credit: memberAccount(id, 'CASH'),
            amountFen: 10n ** 12n,
            kind: 'DEPOSIT',
            businessDate: DATE,
          })),
        ),
      { timeout: 600_000 },
    );

    const batchRate = async (hot: boolean) => {
      const reqs = transfers(ids, BATCH_N, hot);
      const t0 = performance.now();
      await prisma.$transaction((tx) => ledger.postBatch(tx, reqs), { timeout: 600_000 });
      return BATCH_N / ((performance.now() - t0) / 1000);
    };
    const singleRate = async (hot: boolean) => {
      const reqs = transfers(ids, SINGLE_N, hot);
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          while (next < reqs.length) {
            const r = reqs[next++];
            await prisma.$transaction((tx) => ledger.post(tx, [r]));
          }
        }),
      );
      return SINGLE_N / ((performance.now() - t0) / 1000);
    };

    const samples: Record<string, number[]> = { pgbench: [], batchUniform: [], batchHot: [], singleUniform: [], singleHot: [] };
    for (let rep = 1; rep <= REPS; rep++) {
      progress(`rep ${rep}/${REPS}: pgbench`);
      samples.pgbench.push(await pgbenchTps(pgbenchDb.url, 5, CLIENTS));
      progress(`rep ${rep}/${REPS}: batch uniform (${BATCH_N})`);
      samples.batchUniform.push(await batchRate(false));
      progress(`rep ${rep}/${REPS}: batch hot-account (${BATCH_N})`);
      samples.batchHot.push(await batchRate(true));
      progress(`rep ${rep}/${REPS}: single uniform (${SINGLE_N}, ${CLIENTS} clients)`);
      samples.singleUniform.push(await singleRate(false));
      progress(`rep ${rep}/${REPS}: single hot-account (${SINGLE_N}, ${CLIENTS} clients)`);
      samples.singleHot.push(await singleRate(true));
    }
    const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])) as Record<keyof typeof samples, number>;
    const figures: Figure[] = [
      {
        scenario: 'ledger batch, uniform accounts',
        figure: 'transfers/s',
        value: m.batchUniform,
        reference: 'pgbench TPC-B tps',
        referenceValue: m.pgbench,
        ratio: m.batchUniform / m.pgbench,
        goal: '≥ 5× pgbench',
        met: m.batchUniform >= 5 * m.pgbench,
      },
      {
        scenario: 'ledger batch, hot account (ccp:settlement)',
        figure: 'transfers/s',
        value: m.batchHot,
        reference: 'pgbench TPC-B tps',
        referenceValue: m.pgbench,
        ratio: m.batchHot / m.pgbench,
        goal: '≥ 5× pgbench',
        met: m.batchHot >= 5 * m.pgbench,
      },
      {
        scenario: 'ledger batch hot vs single hot',
        figure: 'transfers/s',
        value: m.batchHot,
        reference: 'single-transfer hot tps',
        referenceValue: m.singleHot,
        ratio: m.batchHot / m.singleHot,
        goal: '≥ 10× single',
        met: m.batchHot >= 10 * m.singleHot,
      },
      {
        scenario: 'ledger single transfers, uniform',
        figure: 'transfers/s',
        value: m.singleUniform,
        reference: 'pgbench TPC-B tps',
        referenceValue: m.pgbench,
        ratio: m.singleUniform / m.pgbench,
        goal: 'report',
        met: true,
      },
      {
        scenario: 'ledger single transfers, hot account',
        figure: 'transfers/s',
        value: m.singleHot,
        reference: 'pgbench TPC-B tps',
        referenceValue: m.pgbench,
        ratio: m.singleHot / m.pgbench,
        goal: 'report',
        met: true,
      },
    ];
    printTable(figures);
    await writeResults('ledger', {
      machine: await machine(ledgerDb.url),
      figures,
      notes: [
        `${REPS} interleaved repetitions, medians; batch ${BATCH_N}, single ${SINGLE_N} with ${CLIENTS} clients; pgbench -c ${CLIENTS} -T 5 scale 10`,
      ],
    });
  } finally {
    await prisma.$disconnect();
    await ledgerDb.drop();
    await pgbenchDb.drop();
  }
}

await main();
