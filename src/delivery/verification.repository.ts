import { Injectable } from '@nestjs/common';
import type { RawSql } from '../platform/prisma/prisma.service.js';
import type { EligibleNode } from './delivery.repository.js';

/** An original job as verification reads it (locked): what its re-run copies and what judging needs. */
export interface OriginalJob {
  id: string;
  buyerId: string;
  seriesId: string;
  obligationId: string;
  sellerId: string;
  modelClass: string;
  messages: unknown;
  maxTokens: number;
  countedPromptTokens: number | null;
  output: string | null;
  verification: string;
  /** The original's billable tokens (its usage record). */
  billableTokens: bigint;
  obligationTokens: bigint;
  notionalFen: bigint;
}

export interface RerunJob {
  id: string;
  status: string;
  verifiesJobId: string;
  nodeId: string | null;
  sellerId: string;
  output: string | null;
}

/**
 * Verification by re-execution (SPEC §6.1): the re-runs (delivery_jobs rows with verifiesJobId,
 * reserving nothing and never metered against the obligation) and the verdict on the original.
 */
@Injectable()
export class VerificationRepository {
  /** Locks the original job (FOR UPDATE) and reads it with its usage and obligation figures. */
  async lockOriginal(tx: RawSql, jobId: string): Promise<OriginalJob | undefined> {
    const rows = await tx.$queryRaw<OriginalJob[]>`
      SELECT j.id, j."buyerId", j."seriesId", j."obligationId", j."sellerId", j."modelClass", j.messages, j."maxTokens", j."countedPromptTokens",
             j.output, j.verification::text AS verification, COALESCE(u."billableTokens", 0)::bigint AS "billableTokens",
             o.tokens AS "obligationTokens", o."notionalFen"
      FROM delivery_jobs j
      JOIN delivery_obligations o ON o.id = j."obligationId"
      LEFT JOIN usage_records u ON u."jobId" = j.id
      WHERE j.id = ${jobId}::uuid
      FOR UPDATE OF j`;
    return rows[0];
  }

  /** The jobs among `ids` still PENDING verification, locked (FOR UPDATE) in id order. */
  async lockPending(tx: RawSql, ids: string[]): Promise<string[]> {
    const rows = await tx.$queryRaw<{ id: string }[]>`
      SELECT id FROM delivery_jobs WHERE id = ANY(${ids}::uuid[]) AND verification = 'PENDING' ORDER BY id FOR UPDATE`;
    return rows.map((r) => r.id);
  }

  async rerun(db: RawSql, id: string): Promise<RerunJob | undefined> {
    const rows = await db.$queryRaw<RerunJob[]>`
      SELECT id, status::text AS status, "verifiesJobId", "nodeId", "sellerId", output FROM delivery_jobs WHERE id = ${id}::uuid AND "verifiesJobId" IS NOT NULL`;
    return rows[0];
  }

  /**
   * The re-runs of the originals that have none yet, in one statement: each the original's
   * messages, maxTokens and model class, on its obligation (so views and the trace find it) but
   * reserving nothing. Its seller is the original's until dispatch hands it to the verifying
   * operator. Answers the new re-runs' ids. One re-run per original (a unique index): a
   * concurrent insert of the same re-run adds nothing.
   */
  async insertReruns(tx: RawSql, originalIds: string[]): Promise<string[]> {
    const rows = await tx.$queryRaw<{ id: string }[]>`
      INSERT INTO delivery_jobs (id, "buyerId", "seriesId", "obligationId", "sellerId", "modelClass", region, messages, "maxTokens", "reservedTokens", "countedPromptTokens", "verifiesJobId")
      SELECT gen_random_uuid(), o."buyerId", o."seriesId", o."obligationId", o."sellerId", o."modelClass", NULL, o.messages, o."maxTokens", 0, o."countedPromptTokens", o.id
        FROM delivery_jobs o
       WHERE o.id = ANY(${originalIds}::uuid[])
         AND NOT EXISTS (SELECT 1 FROM delivery_jobs r WHERE r."verifiesJobId" = o.id)
       ORDER BY o.id
      ON CONFLICT ("verifiesJobId") WHERE "verifiesJobId" IS NOT NULL DO NOTHING
      RETURNING id`;
    return rows.map((r) => r.id);
  }

  /**
   * ONLINE nodes serving the model class in the regions, of any ACTIVE operator but the original
   * job's seller (`excludeOperatorId`): the verifier must be someone else.
   */
  async verifierNodes(
    db: RawSql,
    q: { excludeOperatorId: string; modelClass: string; regions: string[]; minTokensPerSecond: number },
  ): Promise<(EligibleNode & { operatorId: string })[]> {
    return db.$queryRaw<(EligibleNode & { operatorId: string })[]>`
      SELECT n.id AS "nodeId", n."operatorId", n.region, nm."tokensPerSecond",
             (nm."tokensPerSecond" - f.jobs * ${q.minTokensPerSecond}::int)::int AS "spareTokensPerSecond"
      FROM nodes n
      JOIN node_models nm ON nm."nodeId" = n.id AND nm."modelClass" = ${q.modelClass}
      CROSS JOIN LATERAL (SELECT count(*) AS jobs FROM delivery_jobs j WHERE j."nodeId" = n.id AND j.status IN ('DISPATCHED','LEASED')) f
      WHERE n."operatorId" <> ${q.excludeOperatorId}::uuid
        AND n.status = 'ONLINE' AND n.region = ANY(${q.regions}::text[])
        AND EXISTS (SELECT 1 FROM members m WHERE m.id = n."operatorId" AND m.status = 'ACTIVE')
      ORDER BY "spareTokensPerSecond" DESC
      LIMIT 20`;
  }

  /**
   * Re-runs still QUEUED at the expected attempt when the window ended: FAILED as NOT_VERIFIED (no
   * one's fault), and their originals back to verification NONE — not verified, not a breach.
   */
  async dropUnverified(tx: RawSql, jobs: { id: string; attempt: number; reason: string }[]): Promise<string[]> {
    const rows = await tx.$queryRaw<{ id: string; verifiesJobId: string }[]>`
      UPDATE delivery_jobs j SET status = 'FAILED', "failureCode" = 'NOT_VERIFIED', "failureReason" = f.reason, "operatorFault" = false, "finishedAt" = now(), "updatedAt" = now()
      FROM unnest(${jobs.map((j) => j.id)}::uuid[], ${jobs.map((j) => j.attempt)}::int[], ${jobs.map((j) => j.reason)}::text[]) AS f(id, attempt, reason)
      WHERE j.id = f.id AND j."verifiesJobId" IS NOT NULL AND CASE WHEN j.status = 'QUEUED' AND j.attempt = f.attempt THEN true ELSE false END
      RETURNING j.id, j."verifiesJobId"`;
    if (rows.length > 0)
      await tx.$executeRaw`
        UPDATE delivery_jobs SET verification = 'NONE', "updatedAt" = now()
        WHERE id = ANY(${rows.map((r) => r.verifiesJobId)}::uuid[]) AND verification = 'PENDING'`;
    return rows.map((r) => r.id);
  }

  /** The verdict on the original job. */
  async recordVerdict(
    tx: RawSql,
    v: { jobId: string; verdict: 'PASSED' | 'FAILED'; similarityBp: number; verifierNodeId: string | null },
  ): Promise<void> {
    await tx.$executeRaw`
      UPDATE delivery_jobs SET verification = ${v.verdict}::"VerificationStatus", "similarityBp" = ${v.similarityBp}::int,
        "verifierNodeId" = ${v.verifierNodeId}::uuid, "updatedAt" = now()
      WHERE id = ${v.jobId}::uuid`;
  }

  /**
   * At the window's close, the series' re-runs not yet completed: FAILED as NOT_VERIFIED (no one's
   * fault, no shortfall: they reserve nothing). Every original whose re-run failed, this way or
   * earlier (the verifier's node gave it up, its leases ran out), goes back to verification NONE:
   * not verified, not a breach.
   */
  async dropUnfinished(tx: RawSql, seriesId: string): Promise<number> {
    const dropped = await tx.$executeRaw`
      UPDATE delivery_jobs SET status = 'FAILED', "failureCode" = 'NOT_VERIFIED', "failureReason" = 'not re-run before the end of the delivery window',
        "operatorFault" = false, "finishedAt" = now(), "leaseToken" = NULL, "leaseExpiresAt" = NULL, "updatedAt" = now()
      WHERE "seriesId" = ${seriesId}::uuid AND "verifiesJobId" IS NOT NULL AND status IN ('QUEUED', 'DISPATCHED', 'LEASED')`;
    await tx.$executeRaw`
      UPDATE delivery_jobs o SET verification = 'NONE', "updatedAt" = now()
      WHERE o."seriesId" = ${seriesId}::uuid AND o.verification = 'PENDING'
        AND EXISTS (SELECT 1 FROM delivery_jobs r WHERE r."verifiesJobId" = o.id AND r.status = 'FAILED')`;
    return dropped;
  }
}
