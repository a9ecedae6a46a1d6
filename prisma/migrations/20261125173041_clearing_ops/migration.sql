-- CreateEnum
CREATE TYPE "ReconRunStatus" AS ENUM ('RUNNING', 'COMPLETED', 'FAILED');

-- CreateEnum
CREATE TYPE "BreakStatus" AS ENUM ('OPEN', 'RESOLVED', 'CLEARED');

-- CreateEnum
CREATE TYPE "AdjustmentStatus" AS ENUM ('PENDING', 'APPROVED', 'REJECTED');

-- AlterTable
ALTER TABLE "audit_events" ADD COLUMN     "hash" VARCHAR(64),
ADD COLUMN     "prevHash" VARCHAR(64);

-- CreateTable
CREATE TABLE "reconciliation_runs" (
    "id" UUID NOT NULL,
    "status" "ReconRunStatus" NOT NULL DEFAULT 'RUNNING',
    "trigger" VARCHAR(20) NOT NULL,
    "settlementRunId" UUID,
    "requestedBy" UUID,
    "checks" JSONB NOT NULL DEFAULT '[]',
    "breaksOpened" INTEGER NOT NULL DEFAULT 0,
    "breaksCleared" INTEGER NOT NULL DEFAULT 0,
    "openBreaks" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMPTZ(3),

    CONSTRAINT "reconciliation_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "breaks" (
    "id" UUID NOT NULL,
    "type" VARCHAR(40) NOT NULL,
    "key" VARCHAR(300) NOT NULL,
    "memberId" UUID,
    "unit" VARCHAR(10) NOT NULL,
    "expected" VARCHAR(100) NOT NULL,
    "actual" VARCHAR(100) NOT NULL,
    "difference" VARCHAR(100) NOT NULL,
    "references" JSONB NOT NULL DEFAULT '{}',
    "status" "BreakStatus" NOT NULL DEFAULT 'OPEN',
    "firstSeenAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "firstRunId" UUID,
    "lastRunId" UUID,
    "resolvedAt" TIMESTAMPTZ(3),
    "resolvedBy" UUID,
    "comment" VARCHAR(2000),
    "adjustmentId" UUID,
    "clearedAt" TIMESTAMPTZ(3),

    CONSTRAINT "breaks_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "adjustments" (
    "id" UUID NOT NULL,
    "debitAccount" VARCHAR(100) NOT NULL,
    "creditAccount" VARCHAR(100) NOT NULL,
    "amountFen" BIGINT NOT NULL,
    "reason" VARCHAR(500) NOT NULL,
    "breakId" UUID,
    "status" "AdjustmentStatus" NOT NULL DEFAULT 'PENDING',
    "payloadHash" VARCHAR(64) NOT NULL,
    "proposedByKeyId" UUID NOT NULL,
    "decidedByKeyId" UUID,
    "decisionComment" VARCHAR(500),
    "decidedAt" TIMESTAMPTZ(3),
    "transferId" UUID,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "adjustments_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "reconciliation_runs_createdAt_idx" ON "reconciliation_runs"("createdAt");

-- CreateIndex
CREATE INDEX "breaks_status_type_idx" ON "breaks"("status", "type");

-- CreateIndex
CREATE INDEX "breaks_type_key_idx" ON "breaks"("type", "key");

-- CreateIndex
CREATE INDEX "breaks_memberId_idx" ON "breaks"("memberId");

-- CreateIndex
CREATE INDEX "adjustments_status_idx" ON "adjustments"("status");

-- Hand-written: the audit hash chain. Each event's hash covers the previous event's hash and its
-- own fields; events are chained in insertion order under a transaction-level advisory lock, and
-- take their seq under that lock so that seq order is chain order.
CREATE FUNCTION audit_event_material(e audit_events) RETURNS text AS $$
  SELECT concat_ws('|', e.seq::text, e.id::text, COALESCE(e."actorMemberId"::text, ''), COALESCE(e."actorKeyId"::text, ''),
    COALESCE(e.role, ''), e.action, COALESCE(e."targetType", ''), COALESCE(e."targetId", ''), COALESCE(e."requestId", ''),
    COALESCE(e."idempotencyKey", ''), e.outcome::text, COALESCE(e."httpStatus"::text, ''), COALESCE(e."errorCode", ''),
    to_char(e."createdAt" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS'), COALESCE(e."prevHash", ''))
$$ LANGUAGE sql IMMUTABLE;

CREATE FUNCTION audit_events_chain() RETURNS trigger AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(727274);
  NEW.seq := nextval(pg_get_serial_sequence('audit_events', 'seq'));
  SELECT hash INTO NEW."prevHash" FROM audit_events ORDER BY seq DESC LIMIT 1;
  NEW.hash := encode(sha256(convert_to(audit_event_material(NEW), 'UTF8')), 'hex');
  RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER audit_events_chain BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_chain();
