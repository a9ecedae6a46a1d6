import { Injectable } from '@nestjs/common';
import type { DeliveryJob } from '../generated/prisma/client.js';
import type { MemberKind } from '../generated/prisma/enums.js';
import type { Db, RawSql, Tx } from '../platform/prisma/prisma.service.js';

export interface NetPosition {
  memberId: string;
  kind: MemberKind;
  net: number;
  firstLongAt: Date | null;
}

export interface EligibleNode {
  nodeId: string;
  region: string;
  tokensPerSecond: number;
  spareTokensPerSecond: number;
}

@Injectable()
export class DeliveryRepository {
  /** Net positions at expiry, with the member kind (traders are closed out, not allocated). */
  netPositions(db: Db, seriesId: string): Promise<NetPosition[]> {
    return db.$queryRaw`
      SELECT p."memberId", m.kind, (p."longQty" - p."shortQty")::int AS net, p."firstLongAt"
      FROM positions p JOIN members m ON m.id = p."memberId"
      WHERE p."seriesId" = ${seriesId}::uuid AND p."longQty" <> p."shortQty"
      ORDER BY p."memberId"`;
  }

  lockJob(tx: Tx, id: string): Promise<DeliveryJob[]> {
    return tx.$queryRaw`SELECT * FROM delivery_jobs WHERE id = ${id}::uuid FOR UPDATE`;
  }

  /**
   * The seller's nodes that may serve a job: ONLINE, serving the model class, in an allowed
   * region, most spare tokens/s first. Spare tokens/s = the node's rate minus the quality floor
   * of each job it holds (counted per node on the (nodeId, status) index).
   */
  async eligibleNodes(
    db: RawSql,
    q: { sellerId: string; modelClass: string; regions: string[]; minTokensPerSecond: number },
  ): Promise<EligibleNode[]> {
    return db.$queryRaw<EligibleNode[]>`
      SELECT n.id AS "nodeId", n.region, nm."tokensPerSecond",
             (nm."tokensPerSecond" - f.jobs * ${q.minTokensPerSecond}::int)::int AS "spareTokensPerSecond"
      FROM nodes n
      JOIN node_models nm ON nm."nodeId" = n.id AND nm."modelClass" = ${q.modelClass}
      CROSS JOIN LATERAL (SELECT count(*) AS jobs FROM delivery_jobs j WHERE j."nodeId" = n.id AND j.status IN ('DISPATCHED','LEASED')) f
      WHERE n."operatorId" = ${q.sellerId}::uuid AND n.status = 'ONLINE' AND n.region = ANY(${q.regions}::text[])
        AND EXISTS (SELECT 1 FROM members m WHERE m.id = n."operatorId" AND m.status = 'ACTIVE')
      ORDER BY "spareTokensPerSecond" DESC
      LIMIT 20`;
  }

  /** Billable tokens of the obligation's jobs that FAILED for operator-side reasons. */
  async failedOperatorTokens(db: Db, obligationIds: string[]): Promise<Map<string, bigint>> {
    const rows = await db.$queryRaw<{ obligationId: string; tokens: bigint }[]>`
      SELECT "obligationId", sum("reservedTokens")::bigint AS tokens FROM delivery_jobs
      WHERE "obligationId" = ANY(${obligationIds}::uuid[]) AND status = 'FAILED' AND "operatorFault"
      GROUP BY "obligationId"`;
    return new Map(rows.map((r) => [r.obligationId, r.tokens]));
  }

  /** Puts expired leases and jobs held by OFFLINE nodes back to dispatch; returns what moved. */
  reclaim(
    tx: Tx,
    maxAttempts: number,
  ): Promise<
    { id: string; attempt: number; status: string; nodeId: string; previousAttempt: number; leaseToken: string | null; reason: string }[]
  > {
    return tx.$queryRaw`
      WITH lost AS (
        SELECT j.id, j."nodeId", j.attempt, j."leaseToken",
               CASE WHEN n.status = 'OFFLINE' THEN 'NODE_OFFLINE' ELSE 'LEASE_EXPIRED' END AS reason
        FROM delivery_jobs j JOIN nodes n ON n.id = j."nodeId"
        WHERE (j.status = 'LEASED' AND j."leaseExpiresAt" < now())
           OR (j.status IN ('DISPATCHED','LEASED') AND n.status = 'OFFLINE')
        FOR UPDATE OF j SKIP LOCKED
      )
      UPDATE delivery_jobs j SET
        attempt = j.attempt + 1,
        status = CASE WHEN j.attempt + 1 >= ${maxAttempts} THEN 'FAILED'::"DeliveryJobStatus" ELSE 'QUEUED'::"DeliveryJobStatus" END,
        "failureCode" = CASE WHEN j.attempt + 1 >= ${maxAttempts} THEN lost.reason ELSE j."failureCode" END,
        "failureReason" = CASE WHEN j.attempt + 1 >= ${maxAttempts} THEN 'gave up after ' || (j.attempt + 1) || ' attempts; last: ' || lost.reason ELSE j."failureReason" END,
        "operatorFault" = j.attempt + 1 >= ${maxAttempts},
        "finishedAt" = CASE WHEN j.attempt + 1 >= ${maxAttempts} THEN now() ELSE NULL END,
        "triedNodes" = array_append(j."triedNodes", j."nodeId"::text),
        decisions = j.decisions || jsonb_build_array(jsonb_build_object('at', now(), 'attempt', j.attempt, 'event', lost.reason, 'nodeId', j."nodeId")),
        "nodeId" = NULL, "leaseToken" = NULL, "leaseExpiresAt" = NULL, "updatedAt" = now()
      FROM lost WHERE j.id = lost.id
      RETURNING j.id, j.attempt, j.status::text AS status, lost."nodeId", lost.attempt AS "previousAttempt", lost."leaseToken", lost.reason`;
  }

  /**
   * Every job a (suspended) operator's nodes hold, leased or only dispatched, back to dispatch at
   * once — the same move as reclaim, with MEMBER_SUSPENDED as the reason.
   */
  reclaimOperator(
    tx: Tx,
    operatorId: string,
    maxAttempts: number,
  ): Promise<
    { id: string; attempt: number; status: string; nodeId: string; previousAttempt: number; leaseToken: string | null; reason: string }[]
  > {
    return tx.$queryRaw`
      WITH lost AS (
        SELECT j.id, j."nodeId", j.attempt, j."leaseToken", 'MEMBER_SUSPENDED' AS reason
        FROM delivery_jobs j JOIN nodes n ON n.id = j."nodeId"
        WHERE j.status IN ('DISPATCHED','LEASED') AND n."operatorId" = ${operatorId}::uuid
        FOR UPDATE OF j
      )
      UPDATE delivery_jobs j SET
        attempt = j.attempt + 1,
        status = CASE WHEN j.attempt + 1 >= ${maxAttempts} THEN 'FAILED'::"DeliveryJobStatus" ELSE 'QUEUED'::"DeliveryJobStatus" END,
        "failureCode" = CASE WHEN j.attempt + 1 >= ${maxAttempts} THEN lost.reason ELSE j."failureCode" END,
        "failureReason" = CASE WHEN j.attempt + 1 >= ${maxAttempts} THEN 'gave up after ' || (j.attempt + 1) || ' attempts; last: ' || lost.reason ELSE j."failureReason" END,
        "operatorFault" = j.attempt + 1 >= ${maxAttempts},
        "finishedAt" = CASE WHEN j.attempt + 1 >= ${maxAttempts} THEN now() ELSE NULL END,
        "triedNodes" = array_append(j."triedNodes", j."nodeId"::text),
        decisions = j.decisions || jsonb_build_array(jsonb_build_object('at', now(), 'attempt', j.attempt, 'event', lost.reason, 'nodeId', j."nodeId")),
        "nodeId" = NULL, "leaseToken" = NULL, "leaseExpiresAt" = NULL, "updatedAt" = now()
      FROM lost WHERE j.id = lost.id
      RETURNING j.id, j.attempt, j.status::text AS status, lost."nodeId", lost.attempt AS "previousAttempt", lost."leaseToken", lost.reason`;
  }

  /** Jobs with no progress for a while: Redis may have lost their queue entry. */
  stale(db: Db, staleMs: number, limit: number): Promise<Pick<DeliveryJob, 'id' | 'attempt' | 'status' | 'nodeId'>[]> {
    return db.$queryRaw`
      UPDATE delivery_jobs SET "updatedAt" = now()
      WHERE id IN (SELECT id FROM delivery_jobs WHERE status IN ('QUEUED','DISPATCHED') AND "updatedAt" < now() - ${staleMs} * interval '1 millisecond'
                   ORDER BY "updatedAt" LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING id, attempt, status, "nodeId"`;
  }

  /** Returns the reservation of jobs that ended without a completion to their obligations. */
  async releaseReservations(tx: Tx, jobIds: string[]): Promise<void> {
    if (jobIds.length === 0) return;
    await tx.$executeRaw`
      UPDATE delivery_obligations o SET "reservedTokens" = o."reservedTokens" - r.tokens
      FROM (SELECT "obligationId", sum("reservedTokens") AS tokens FROM delivery_jobs WHERE id = ANY(${jobIds}::uuid[]) GROUP BY "obligationId") r
      WHERE o.id = r."obligationId"`;
  }

  /** FUNDING → OPEN for obligations whose buyer's cash is no longer negative. */
  async activateFunded(db: RawSql, buyerId?: string): Promise<number> {
    return db.$executeRaw`
      UPDATE delivery_obligations o SET status = 'OPEN', "fundedAt" = now()
      FROM ledger_accounts a
      WHERE o.status = 'FUNDING' AND a."memberId" = o."buyerId" AND a.type = 'CASH' AND a."balanceFen" >= 0
        AND (${buyerId ?? null}::uuid IS NULL OR o."buyerId" = ${buyerId ?? null}::uuid)`;
  }

  /**
   * Tokens/s the open obligations still need, per model class × region: each obligation's
   * remaining tokens over the rest of its window, spread over the seller's online nodes in
   * proportion to their rate. Rounded up (never under-report a commitment).
   */
  committed(db: Db): Promise<{ modelClass: string; region: string; tokensPerSecond: bigint }[]> {
    return db.$queryRaw`
      WITH o AS (
        SELECT ob."sellerId", p."modelClass", (ob.tokens - ob."deliveredTokens") AS remaining,
               GREATEST(1, floor(extract(epoch FROM s."deliveryEnd" - GREATEST(now(), s."deliveryStart"))))::bigint AS secs
        FROM delivery_obligations ob JOIN series s ON s.id = ob."seriesId" JOIN products p ON p.id = s."productId"
        WHERE ob.status <> 'CLOSED' AND s."deliveryEnd" > now() AND ob.tokens > ob."deliveredTokens"
      ), cap AS (
        SELECT n."operatorId", nm."modelClass", n.region, sum(nm."tokensPerSecond")::bigint AS tps
        FROM nodes n JOIN node_models nm ON nm."nodeId" = n.id WHERE n.status = 'ONLINE' GROUP BY 1, 2, 3
      ), tot AS (SELECT "operatorId", "modelClass", sum(tps)::bigint AS tps FROM cap GROUP BY 1, 2)
      SELECT cap."modelClass", cap.region,
             sum((o.remaining * cap.tps + o.secs * tot.tps - 1) / (o.secs * tot.tps))::bigint AS "tokensPerSecond"
      FROM o JOIN cap ON cap."operatorId" = o."sellerId" AND cap."modelClass" = o."modelClass"
             JOIN tot ON tot."operatorId" = o."sellerId" AND tot."modelClass" = o."modelClass"
      GROUP BY 1, 2`;
  }

  /**
   * Quality-spec breaches and volumes per operator (the operator's own, or all for clearing): one
   * page in operator id order, after `afterOperatorId`, limit + 1 rows.
   */
  quality(db: Db, q: { operatorId?: string; afterOperatorId?: string; limit: number }) {
    return db.$queryRaw<
      {
        operatorId: string;
        jobs: bigint;
        billableTokens: bigint;
        ttftBreaches: bigint;
        rateBreaches: bigint;
        discrepancies: bigint;
        timingFlags: bigint;
        verificationsPassed: bigint;
        verificationsFailed: bigint;
      }[]
    >`
      SELECT u."operatorId", count(*)::bigint AS jobs, sum(u."billableTokens")::bigint AS "billableTokens",
             count(*) FILTER (WHERE u."ttftBreach")::bigint AS "ttftBreaches", count(*) FILTER (WHERE u."rateBreach")::bigint AS "rateBreaches",
             count(*) FILTER (WHERE j."meteringFlagged")::bigint AS discrepancies, count(*) FILTER (WHERE j."timingFlagged")::bigint AS "timingFlags",
             count(*) FILTER (WHERE j.verification = 'PASSED')::bigint AS "verificationsPassed",
             count(*) FILTER (WHERE j.verification = 'FAILED')::bigint AS "verificationsFailed"
      FROM usage_records u JOIN delivery_jobs j ON j.id = u."jobId"
      WHERE (${q.operatorId ?? null}::uuid IS NULL OR u."operatorId" = ${q.operatorId ?? null}::uuid)
        AND (${q.afterOperatorId ?? null}::uuid IS NULL OR u."operatorId" > ${q.afterOperatorId ?? null}::uuid)
      GROUP BY u."operatorId" ORDER BY u."operatorId"
      LIMIT ${q.limit + 1}`;
  }
}
