// npm run bench:ledger — transfers/s through the ledger's batch API and single-transfer calls,
// uniform and hot-account, against pgbench TPC-B TPS on the same server in the same run.
import { LedgerRepository } from '../src/ledger/ledger.repository.js';
import { LedgerService } from '../src/ledger/ledger.service.js';
import { HOUSE, memberAccount, type TransferRequest } from '../src/ledger/ledger.types.js';
import { loadEnvConfig } from '../src/platform/config/config.js';
import { PrismaService } from '../src/platform/prisma/prisma.service.js';
import {
  machine,
  machineBusySeconds,
  median,
  pgbenchInit,
  pgbenchTps,
  printTable,
  progress,
  rowStart,
  rssPeak,
  scratchDatabase,
  watchBackends,
  WATCH_MS,
  writeResults,
  type BackendStates,
  type Figure,
} from './lib.js';

const REPS = Number(process.env.BENCH_REPS ?? 3);
const BATCH_N = Number(process.env.BENCH_BATCH_N ?? 50_000);
const SINGLE_N = Number(process.env.BENCH_SINGLE_N ?? 2_000);
// 8 clients each posting batches of SMALL_BATCH transfers, SMALL_N transfers in all.
const SMALL_N = Number(process.env.BENCH_SMALL_N ?? 40_000);
const SMALL_BATCH = 100;
const PGBENCH_SECONDS = Number(process.env.BENCH_PGBENCH_SECONDS ?? 5);
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

    // One batch, one committed transaction: transfers/s and transactions/s are both its rate.
    const batchRate = async (hot: boolean) => {
      const reqs = transfers(ids, BATCH_N, hot);
      const t0 = performance.now();
      await prisma.$transaction((tx) => ledger.postBatch(tx, reqs), { timeout: 600_000 });
      return BATCH_N / ((performance.now() - t0) / 1000);
    };
    // CLIENTS clients, each posting its next batch of SMALL_BATCH as soon as the last committed.
    const smallBatchRate = async () => {
      const reqs = transfers(ids, SMALL_N, false);
      let next = 0;
      let commits = 0;
      const watch = watchBackends(ledgerDb.url);
      const busy0 = await machineBusySeconds();
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          while (next < reqs.length) {
            const batch = reqs.slice(next, next + SMALL_BATCH);
            next += batch.length;
            await prisma.$transaction((tx) => ledger.postBatch(tx, batch), { timeout: 600_000 });
            commits++;
          }
        }),
      );
      const s = (performance.now() - t0) / 1000;
      const busyCores = ((await machineBusySeconds()) - busy0) / s;
      return { transfers: SMALL_N / s, tx: commits / s, backends: await watch.stop(), busyCores };
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

    /** Per repetition of the 8-client phase: what its backends were doing, on average, and the machine's busy cores. */
    const smallWaits: (BackendStates & { busyCores: number })[] = [];
    const samples: Record<string, number[]> = {
      pgbench: [],
      batchUniform: [],
      batchHot: [],
      smallTransfers: [],
      smallTx: [],
      singleUniform: [],
      singleHot: [],
    };
    // Each scenario's own start (its first repetition) and peak RSS over its repetitions.
    const { commit } = await rowStart();
    const firstStart: Record<string, string> = {};
    const peaks: Record<string, number> = {};
    const timed = async <T>(scenario: string, fn: () => Promise<T>): Promise<T> => {
      firstStart[scenario] ??= new Date().toISOString();
      const rss = rssPeak(process.pid);
      try {
        return await fn();
      } finally {
        peaks[scenario] = Math.max(peaks[scenario] ?? 0, await rss.stop());
      }
    };
    for (let rep = 1; rep <= REPS; rep++) {
      progress(`rep ${rep}/${REPS}: pgbench`);
      samples.pgbench.push(await pgbenchTps(pgbenchDb.url, PGBENCH_SECONDS, CLIENTS));
      progress(`rep ${rep}/${REPS}: batch uniform (${BATCH_N})`);
      samples.batchUniform.push(await timed('batchUniform', () => batchRate(false)));
      progress(`rep ${rep}/${REPS}: batch hot-account (${BATCH_N})`);
      samples.batchHot.push(await timed('batchHot', () => batchRate(true)));
      progress(`rep ${rep}/${REPS}: ${CLIENTS} clients, batches of ${SMALL_BATCH} (${SMALL_N})`);
      const small = await timed('small', smallBatchRate);
      samples.smallTransfers.push(small.transfers);
      samples.smallTx.push(small.tx);
      smallWaits.push({ ...small.backends, busyCores: small.busyCores });
      progress(`rep ${rep}/${REPS}: single uniform (${SINGLE_N}, ${CLIENTS} clients)`);
      samples.singleUniform.push(await timed('singleUniform', () => singleRate(false)));
      progress(`rep ${rep}/${REPS}: single hot-account (${SINGLE_N}, ${CLIENTS} clients)`);
      samples.singleHot.push(await timed('singleHot', () => singleRate(true)));
    }
    const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])) as Record<keyof typeof samples, number>;
    const meta = (scenario: string) => ({
      startedAt: firstStart[scenario],
      commit,
      peakRssMiB: peaks[scenario],
      rssOf: 'bench process (the ledger runs in-process; no API process)',
    });
    const atLeast = (x: number, ref: number, k: number, unit: string) =>
      x >= k * ref ? { met: true } : { met: false, failReason: `${(x / ref).toFixed(2)}× < ${k}× ${unit}` };
    const goal8 = '≥ 8× pgbench (transfers/s)';
    const figures: Figure[] = [
      {
        scenario: `ledger batch of ${BATCH_N}, uniform accounts`,
        figure: 'transfers/s',
        value: m.batchUniform,
        reference: 'pgbench TPC-B tps',
        referenceValue: m.pgbench,
        ratio: m.batchUniform / m.pgbench,
        goal: goal8,
        ...atLeast(m.batchUniform, m.pgbench, 8, 'pgbench'),
        ...meta('batchUniform'),
      },
      {
        scenario: `ledger batch of ${BATCH_N}, uniform accounts, as transactions`,
        figure: 'committed transactions/s',
        value: m.batchUniform / BATCH_N,
        reference: 'pgbench TPC-B tps',
        referenceValue: m.pgbench,
        ratio: m.batchUniform / BATCH_N / m.pgbench,
        goal: 'report',
        met: true,
        ...meta('batchUniform'),
      },
      {
        scenario: `ledger batch of ${BATCH_N}, hot account (ccp:settlement)`,
        figure: 'transfers/s',
        value: m.batchHot,
        reference: 'pgbench TPC-B tps',
        referenceValue: m.pgbench,
        ratio: m.batchHot / m.pgbench,
        goal: goal8,
        ...atLeast(m.batchHot, m.pgbench, 8, 'pgbench'),
        ...meta('batchHot'),
      },
      {
        scenario: `ledger, ${CLIENTS} clients posting batches of ${SMALL_BATCH}, uniform`,
        figure: 'transfers/s',
        value: m.smallTransfers,
        reference: 'pgbench TPC-B tps',
        referenceValue: m.pgbench,
        ratio: m.smallTransfers / m.pgbench,
        goal: goal8,
        ...atLeast(m.smallTransfers, m.pgbench, 8, 'pgbench'),
        ...meta('small'),
      },
      {
        scenario: `ledger, ${CLIENTS} clients posting batches of ${SMALL_BATCH}, as transactions`,
        figure: 'committed transactions/s',
        value: m.smallTx,
        reference: 'pgbench TPC-B tps',
        referenceValue: m.pgbench,
        ratio: m.smallTx / m.pgbench,
        goal: 'report',
        met: true,
        ...meta('small'),
      },
      {
        scenario: 'ledger batch hot vs single hot',
        figure: 'transfers/s',
        value: m.batchHot,
        reference: 'single-transfer hot tps',
        referenceValue: m.singleHot,
        ratio: m.batchHot / m.singleHot,
        goal: '≥ 10× single',
        ...atLeast(m.batchHot, m.singleHot, 10, 'single'),
        ...meta('batchHot'),
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
        ...meta('singleUniform'),
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
        ...meta('singleHot'),
      },
    ];
    printTable(figures);
    await writeResults('ledger', {
      machine: await machine(ledgerDb.url),
      figures,
      notes: [
        `${REPS} interleaved repetitions, medians; batch ${BATCH_N} in one transaction; ${SMALL_N} transfers as batches of ${SMALL_BATCH} from ${CLIENTS} concurrent clients (one transaction per batch); single ${SINGLE_N} with ${CLIENTS} clients; pgbench -c ${CLIENTS} -j 2 -T ${PGBENCH_SECONDS} scale 10`,
        'a pgbench TPC-B transaction is 3 updates, 1 insert and 1 select, committed; the transfers/s rows compare ledger transfers to those, the transactions/s rows compare commits to commits',
        `${CLIENTS} clients × batches of ${SMALL_BATCH}, what bounds them (pg_stat_activity sampled every ${WATCH_MS} ms over each phase, the clients' backends on average; by repetition): ${smallWaits.map((w) => `${w.lockWait.toFixed(1)} waiting on a row lock, ${w.running.toFixed(1)} running, ${w.idleInTx.toFixed(1)} idle in transaction (the client's turn), machine busy ${w.busyCores.toFixed(2)} of 2 cores`).join(' | ')}`,
      ],
    });
  } finally {
    await prisma.$disconnect();
    await ledgerDb.drop();
    await pgbenchDb.drop();
  }
}

await main();
