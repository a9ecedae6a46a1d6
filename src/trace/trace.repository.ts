import type { Db } from '../platform/prisma/prisma.service.js';
import type { TraceEntry } from './domain/trace-chain.js';

export interface TracedObligation {
  id: string;
  seriesId: string;
  sellerId: string;
  buyerId: string;
  status: string;
  traceHash: string | null;
}

/**
 * The rows an obligation's trace chains, in chain order, as plain functions of a db so the
 * window close (in its transaction) and the TRACE_CHAIN check read exactly what the endpoint
 * shows. Trades: the series' trades in which the obligation's buyer bought or its seller sold
 * (the positions allocation netted into it), by sequence. Jobs by sequence, each followed by its
 * usage record. Transfers referring to the obligation, by sequence.
 */
export async function tracedObligation(db: Db, id: string): Promise<TracedObligation | null> {
  const [o] = await db.$queryRaw<TracedObligation[]>`
    SELECT id, "seriesId", "sellerId", "buyerId", status::text AS status, "traceHash" FROM delivery_obligations WHERE id = ${id}::uuid`;
  return o ?? null;
}

export async function traceEntries(db: Db, obligationId: string): Promise<TraceEntry[]> {
  const [o] = await db.$queryRaw<
    {
      id: string;
      seriesId: string;
      seq: number;
      sellerId: string;
      buyerId: string;
      contracts: number;
      tokens: bigint;
      priceFen: bigint;
      notionalFen: bigint;
      replacesObligationId: string | null;
    }[]
  >`
    SELECT id, "seriesId", seq, "sellerId", "buyerId", contracts, tokens, "priceFen", "notionalFen", "replacesObligationId"
    FROM delivery_obligations WHERE id = ${obligationId}::uuid`;
  if (!o) return [];
  const trades = await db.$queryRaw<
    { id: string; priceFen: bigint; quantity: number; buyerId: string; sellerId: string; businessDate: Date; createdAt: Date }[]
  >`
    SELECT id, "priceFen", quantity, "buyerId", "sellerId", "businessDate", "createdAt" FROM trades
    WHERE "seriesId" = ${o.seriesId}::uuid AND ("buyerId" = ${o.buyerId}::uuid OR "sellerId" = ${o.sellerId}::uuid)
    ORDER BY seq`;
  const jobs = await db.$queryRaw<
    {
      id: string;
      status: string;
      maxTokens: number;
      reservedTokens: bigint;
      failureCode: string | null;
      operatorFault: boolean;
      verifiesJobId: string | null;
      usageId: string | null;
      nodeId: string | null;
      operatorId: string | null;
      promptTokens: bigint | null;
      completionTokens: bigint | null;
      billableTokens: bigint | null;
      creditedTokens: bigint | null;
      releasedFen: bigint | null;
      outputSha256: string | null;
    }[]
  >`
    SELECT j.id, j.status::text AS status, j."maxTokens", j."reservedTokens", j."failureCode", j."operatorFault", j."verifiesJobId",
           u.id AS "usageId", u."nodeId", u."operatorId", u."promptTokens", u."completionTokens", u."billableTokens",
           u."creditedTokens", u."releasedFen", u."outputSha256"
    FROM delivery_jobs j LEFT JOIN usage_records u ON u."jobId" = j.id
    WHERE j."obligationId" = ${obligationId}::uuid ORDER BY j.seq`;
  const transfers = await db.$queryRaw<
    {
      id: string;
      kind: string;
      amountFen: bigint;
      debitAccountId: string;
      creditAccountId: string;
      jobId: string | null;
      businessDate: Date;
    }[]
  >`
    SELECT id, kind::text AS kind, "amountFen", "debitAccountId", "creditAccountId", "jobId", "businessDate" FROM transfers
    WHERE "obligationId" = ${obligationId}::uuid ORDER BY seq`;

  const day = (d: Date) => d.toISOString().slice(0, 10);
  // Trades are novated: a counterparty that is neither party to this obligation is the CCP to
  // them, and its identity is not theirs to see (SPEC §1; the OWASP suite's data-exposure test).
  const party = (memberId: string) => (memberId === o.buyerId || memberId === o.sellerId ? memberId : 'CCP');
  return [
    ...trades.map((t) => ({
      kind: 'TRADE' as const,
      id: t.id,
      content: {
        priceFen: t.priceFen,
        quantity: t.quantity,
        buyerId: party(t.buyerId),
        sellerId: party(t.sellerId),
        businessDate: day(t.businessDate),
      },
    })),
    {
      kind: 'OBLIGATION' as const,
      id: o.id,
      content: {
        seriesId: o.seriesId,
        seq: o.seq,
        sellerId: o.sellerId,
        buyerId: o.buyerId,
        contracts: o.contracts,
        tokens: o.tokens,
        priceFen: o.priceFen,
        notionalFen: o.notionalFen,
        replacesObligationId: o.replacesObligationId,
      },
    },
    ...jobs.flatMap((j) => [
      {
        kind: 'JOB' as const,
        id: j.id,
        content: {
          status: j.status,
          maxTokens: j.maxTokens,
          reservedTokens: j.reservedTokens,
          failureCode: j.failureCode,
          operatorFault: j.operatorFault,
          verifiesJobId: j.verifiesJobId,
        },
      },
      ...(j.usageId
        ? [
            {
              kind: 'USAGE' as const,
              id: j.usageId,
              content: {
                jobId: j.id,
                nodeId: j.nodeId,
                operatorId: j.operatorId,
                promptTokens: j.promptTokens,
                completionTokens: j.completionTokens,
                billableTokens: j.billableTokens,
                creditedTokens: j.creditedTokens,
                releasedFen: j.releasedFen,
                outputSha256: j.outputSha256,
              },
            },
          ]
        : []),
    ]),
    ...transfers.map((t) => ({
      kind: 'TRANSFER' as const,
      id: t.id,
      content: {
        kind: t.kind,
        amountFen: t.amountFen,
        debitAccountId: t.debitAccountId,
        creditAccountId: t.creditAccountId,
        jobId: t.jobId,
        businessDate: day(t.businessDate),
      },
    })),
  ];
}

/** Stores the sealed head hash of closed obligations. */
export async function sealTraces(db: Db, seals: { id: string; hash: string }[]): Promise<void> {
  if (seals.length === 0) return;
  await db.$executeRaw`
    UPDATE delivery_obligations o SET "traceHash" = s.hash
    FROM unnest(${seals.map((s) => s.id)}::uuid[], ${seals.map((s) => s.hash)}::text[]) AS s(id, hash) WHERE o.id = s.id`;
}

/** Closed obligations carrying a sealed trace, one page in id order after `afterId`. */
export function sealedObligations(
  db: Db,
  afterId: string | null,
  limit: number,
): Promise<{ id: string; sellerId: string; traceHash: string }[]> {
  return db.$queryRaw`
    SELECT id, "sellerId", "traceHash" FROM delivery_obligations o
    WHERE status = 'CLOSED' AND "traceHash" IS NOT NULL AND (${afterId}::uuid IS NULL OR id > ${afterId}::uuid)
      -- A trace with rows in an archived month was checked before the month was archived (only a
      -- reconciled month is); the live tables alone no longer hold it.
      AND NOT EXISTS (SELECT 1 FROM archived_totals a WHERE a.key = o.id AND a.scope IN ('OBLIGATION_HELD_FEN', 'OBLIGATION_CREDITED_TOKENS'))
    ORDER BY id LIMIT ${limit}`;
}

/** Usage records whose outputSha256 is not the SHA-256 of their job's stored output. */
export function outputHashMismatches(
  db: Db,
): Promise<{ usageId: string; jobId: string; obligationId: string; operatorId: string; recorded: string | null; actual: string | null }[]> {
  return db.$queryRaw`
    SELECT u.id AS "usageId", u."jobId", u."obligationId", u."operatorId", u."outputSha256" AS recorded,
           encode(sha256(convert_to(j.output, 'UTF8')), 'hex') AS actual
    FROM usage_records u JOIN delivery_jobs j ON j.id = u."jobId"
    WHERE u."outputSha256" IS NOT NULL AND u."outputSha256" IS DISTINCT FROM encode(sha256(convert_to(j.output, 'UTF8')), 'hex')`;
}

export async function usageRecordCount(db: Db): Promise<number> {
  const [{ n }] = await db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM usage_records`;
  return Number(n);
}
