import type { Db } from '../platform/prisma/prisma.service.js';
import { chain, headHash } from '../trace/domain/trace-chain.js';
import { outputHashMismatches, sealedObligations, traceEntries, usageRecordCount } from '../trace/trace.repository.js';
import type { CheckResult, Difference } from './checks.js';

/**
 * Delivery integrity (SPEC §6.1): every completion whose node reported other figures than the
 * clearing house counted, beyond the product's tolerance, is a METERING_DISCREPANCY break — the
 * seller was paid the count, the break is for clearing staff to follow up with the operator.
 * A break once RESOLVED stays resolved (the discrepancy is a fact of the past, not a drift).
 */
export async function meteringDiscrepancy(db: Db): Promise<CheckResult> {
  const rows = await db.$queryRaw<
    {
      jobId: string;
      operatorId: string;
      obligationId: string;
      nodeId: string;
      promptTokens: bigint;
      completionTokens: bigint;
      reportedPromptTokens: bigint;
      reportedCompletionTokens: bigint;
      discrepancyBp: number;
      tokenizer: string | null;
    }[]
  >`
    SELECT u."jobId", u."operatorId", u."obligationId", u."nodeId", u."promptTokens", u."completionTokens",
           u."reportedPromptTokens", u."reportedCompletionTokens", u."discrepancyBp", u.tokenizer
    FROM usage_records u JOIN delivery_jobs j ON j.id = u."jobId"
    WHERE j."meteringFlagged"
      AND NOT EXISTS (SELECT 1 FROM breaks b WHERE b.type = 'METERING_DISCREPANCY' AND b.key = u."jobId"::text AND b.status = 'RESOLVED')`;
  const [{ n }] = await db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM usage_records`;
  return {
    name: 'METERING_DISCREPANCY',
    rowsExamined: Number(n),
    differences: rows.map((r) => ({
      type: 'METERING_DISCREPANCY',
      key: r.jobId,
      memberId: r.operatorId,
      unit: 'TOKENS',
      expected: `counted ${r.promptTokens} + ${r.completionTokens}`,
      actual: `reported ${r.reportedPromptTokens} + ${r.reportedCompletionTokens}`,
      difference: `${r.discrepancyBp} bp`,
      references: { jobId: r.jobId, obligationId: r.obligationId, nodeId: r.nodeId, tokenizer: r.tokenizer },
    })),
  };
}

/**
 * Trace integrity (SPEC §6.1): every closed obligation's trace chain is recomputed and its head
 * compared with the hash sealed at window close — a usage record, job or transfer changed after
 * close is a TRACE_CHAIN break keyed by the obligation. Each usage record's outputSha256 must
 * also be the SHA-256 of its job's stored output (a break keyed by the usage record).
 */
export async function traceChain(db: Db): Promise<CheckResult> {
  const differences: Difference[] = [];
  let examined = 0;
  for (let after: string | null = null; ;) {
    const page = await sealedObligations(db, after, 200);
    for (const o of page) {
      examined++;
      const head = headHash(chain(await traceEntries(db, o.id)));
      if (head !== o.traceHash)
        differences.push({
          type: 'TRACE_CHAIN',
          key: o.id,
          memberId: o.sellerId,
          unit: 'HASH',
          expected: o.traceHash,
          actual: head,
          difference: 'trace head differs from the seal',
          references: { obligationId: o.id },
        });
    }
    if (page.length < 200) break;
    after = page.at(-1)!.id;
  }
  for (const u of await outputHashMismatches(db))
    differences.push({
      type: 'TRACE_CHAIN',
      key: `output:${u.usageId}`,
      memberId: u.operatorId,
      unit: 'HASH',
      expected: u.recorded ?? '',
      actual: u.actual ?? 'no output',
      difference: 'usage outputSha256 is not the SHA-256 of the job output',
      references: { usageRecordId: u.usageId, jobId: u.jobId, obligationId: u.obligationId },
    });
  return { name: 'TRACE_CHAIN', rowsExamined: examined + (await usageRecordCount(db)), differences };
}

/**
 * Verification by re-execution (SPEC §6.1): every job whose re-run on another operator's node
 * came out less similar than the product's threshold is a VERIFICATION_FAILED break against the
 * original's seller (already penalised; the break is for clearing staff to follow up). A break
 * once RESOLVED stays resolved.
 */
export async function verificationFailed(db: Db): Promise<CheckResult> {
  const rows = await db.$queryRaw<
    {
      jobId: string;
      sellerId: string;
      obligationId: string;
      nodeId: string | null;
      verifierNodeId: string | null;
      similarityBp: number | null;
      thresholdBp: number;
    }[]
  >`
    SELECT j.id AS "jobId", j."sellerId", j."obligationId", j."nodeId", j."verifierNodeId", j."similarityBp", p."verificationThresholdBp" AS "thresholdBp"
    FROM delivery_jobs j JOIN series s ON s.id = j."seriesId" JOIN products p ON p.id = s."productId"
    WHERE j.verification = 'FAILED'
      AND NOT EXISTS (SELECT 1 FROM breaks b WHERE b.type = 'VERIFICATION_FAILED' AND b.key = j.id::text AND b.status = 'RESOLVED')`;
  // Every job's verdict is looked at (most are NONE: not sampled).
  const [{ n }] = await db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM delivery_jobs`;
  return {
    name: 'VERIFICATION_FAILED',
    rowsExamined: Number(n),
    differences: rows.map((r) => ({
      type: 'VERIFICATION_FAILED',
      key: r.jobId,
      memberId: r.sellerId,
      unit: 'JOB',
      expected: `similarity ≥ ${r.thresholdBp} bp`,
      actual: `${r.similarityBp ?? 0} bp`,
      difference: `${(r.similarityBp ?? 0) - r.thresholdBp} bp`,
      references: { jobId: r.jobId, obligationId: r.obligationId, nodeId: r.nodeId, verifierNodeId: r.verifierNodeId },
    })),
  };
}
