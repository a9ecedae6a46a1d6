-- CreateEnum
CREATE TYPE "ObligationStatus" AS ENUM ('FUNDING', 'OPEN', 'CLOSED');

-- CreateEnum
CREATE TYPE "DeliveryJobStatus" AS ENUM ('QUEUED', 'DISPATCHED', 'LEASED', 'COMPLETED', 'FAILED');

-- CreateTable
CREATE TABLE "delivery_obligations" (
    "id" UUID NOT NULL,
    "seriesId" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "sellerId" UUID NOT NULL,
    "buyerId" UUID NOT NULL,
    "contracts" INTEGER NOT NULL,
    "tokens" BIGINT NOT NULL,
    "priceFen" BIGINT NOT NULL,
    "notionalFen" BIGINT NOT NULL,
    "deliveredTokens" BIGINT NOT NULL DEFAULT 0,
    "reservedTokens" BIGINT NOT NULL DEFAULT 0,
    "excessTokens" BIGINT NOT NULL DEFAULT 0,
    "releasedFen" BIGINT NOT NULL DEFAULT 0,
    "refundedFen" BIGINT NOT NULL DEFAULT 0,
    "penaltyFen" BIGINT NOT NULL DEFAULT 0,
    "shortfallTokens" BIGINT NOT NULL DEFAULT 0,
    "unusedTokens" BIGINT NOT NULL DEFAULT 0,
    "status" "ObligationStatus" NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "fundedAt" TIMESTAMPTZ(3),
    "closedAt" TIMESTAMPTZ(3),

    CONSTRAINT "delivery_obligations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "delivery_jobs" (
    "id" UUID NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "buyerId" UUID NOT NULL,
    "seriesId" UUID NOT NULL,
    "obligationId" UUID NOT NULL,
    "sellerId" UUID NOT NULL,
    "modelClass" VARCHAR(64) NOT NULL,
    "region" VARCHAR(64),
    "messages" JSONB NOT NULL,
    "maxTokens" INTEGER NOT NULL,
    "reservedTokens" BIGINT NOT NULL,
    "callbackUrl" VARCHAR(2000),
    "status" "DeliveryJobStatus" NOT NULL DEFAULT 'QUEUED',
    "attempt" INTEGER NOT NULL DEFAULT 0,
    "nodeId" UUID,
    "leaseToken" VARCHAR(64),
    "leaseExpiresAt" TIMESTAMPTZ(3),
    "triedNodes" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "decisions" JSONB NOT NULL DEFAULT '[]',
    "failureReason" VARCHAR(500),
    "failureCode" VARCHAR(40),
    "operatorFault" BOOLEAN NOT NULL DEFAULT false,
    "output" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "dispatchedAt" TIMESTAMPTZ(3),
    "leasedAt" TIMESTAMPTZ(3),
    "finishedAt" TIMESTAMPTZ(3),

    CONSTRAINT "delivery_jobs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "usage_records" (
    "id" UUID NOT NULL,
    "jobId" UUID NOT NULL,
    "obligationId" UUID NOT NULL,
    "nodeId" UUID NOT NULL,
    "operatorId" UUID NOT NULL,
    "promptTokens" BIGINT NOT NULL,
    "completionTokens" BIGINT NOT NULL,
    "billableTokens" BIGINT NOT NULL,
    "creditedTokens" BIGINT NOT NULL,
    "excessTokens" BIGINT NOT NULL,
    "releasedFen" BIGINT NOT NULL,
    "ttftMs" INTEGER NOT NULL,
    "durationMs" INTEGER NOT NULL,
    "ttftBreach" BOOLEAN NOT NULL,
    "rateBreach" BOOLEAN NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "usage_records_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_deliveries" (
    "id" UUID NOT NULL,
    "jobId" UUID NOT NULL,
    "memberId" UUID NOT NULL,
    "url" VARCHAR(2000) NOT NULL,
    "attempt" INTEGER NOT NULL,
    "httpStatus" INTEGER,
    "error" VARCHAR(500),
    "ok" BOOLEAN NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_secrets" (
    "memberId" UUID NOT NULL,
    "secret" VARCHAR(100) NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_secrets_pkey" PRIMARY KEY ("memberId")
);

-- CreateIndex
CREATE INDEX "delivery_obligations_buyerId_status_idx" ON "delivery_obligations"("buyerId", "status");

-- CreateIndex
CREATE INDEX "delivery_obligations_sellerId_status_idx" ON "delivery_obligations"("sellerId", "status");

-- CreateIndex
CREATE UNIQUE INDEX "delivery_obligations_seriesId_seq_key" ON "delivery_obligations"("seriesId", "seq");

-- CreateIndex
CREATE INDEX "delivery_jobs_obligationId_status_idx" ON "delivery_jobs"("obligationId", "status");

-- CreateIndex
CREATE INDEX "delivery_jobs_status_leaseExpiresAt_idx" ON "delivery_jobs"("status", "leaseExpiresAt");

-- CreateIndex
CREATE INDEX "delivery_jobs_nodeId_status_idx" ON "delivery_jobs"("nodeId", "status");

-- CreateIndex
CREATE INDEX "delivery_jobs_buyerId_createdAt_idx" ON "delivery_jobs"("buyerId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "usage_records_jobId_key" ON "usage_records"("jobId");

-- CreateIndex
CREATE INDEX "usage_records_obligationId_idx" ON "usage_records"("obligationId");

-- CreateIndex
CREATE INDEX "usage_records_operatorId_idx" ON "usage_records"("operatorId");

-- CreateIndex
CREATE INDEX "webhook_deliveries_jobId_idx" ON "webhook_deliveries"("jobId");

-- Hand-written: obligation invariants as a trigger (CHECK constraints break the WASM schema
-- describer, see migrator.ts). Delivered tokens never exceed the obligation; nothing negative.
CREATE FUNCTION delivery_obligation_guard() RETURNS trigger AS $$
BEGIN
  IF NEW."deliveredTokens" < 0 OR NEW."reservedTokens" < 0 OR NEW."deliveredTokens" > NEW.tokens
     OR NEW."releasedFen" < 0 OR NEW."refundedFen" < 0 OR NEW."releasedFen" + NEW."refundedFen" > NEW."notionalFen" THEN
    RAISE EXCEPTION 'delivery obligation % would break its invariants (delivered %, reserved %, released %, refunded %)',
      NEW.id, NEW."deliveredTokens", NEW."reservedTokens", NEW."releasedFen", NEW."refundedFen" USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER delivery_obligation_guard BEFORE INSERT OR UPDATE ON delivery_obligations
  FOR EACH ROW EXECUTE FUNCTION delivery_obligation_guard();
