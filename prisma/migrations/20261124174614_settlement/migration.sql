-- CreateEnum
CREATE TYPE "SettlementRunType" AS ENUM ('DAILY', 'EXPIRY', 'DELIVERY_CLOSE');

-- CreateEnum
CREATE TYPE "SettlementRunStatus" AS ENUM ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED');

-- CreateEnum
CREATE TYPE "PriceMethod" AS ENUM ('VWAP', 'MID', 'PREVIOUS', 'FIXED', 'INDEX');

-- CreateEnum
CREATE TYPE "MarginCallStatus" AS ENUM ('OPEN', 'CLOSED');

-- CreateTable
CREATE TABLE "settlement_runs" (
    "id" UUID NOT NULL,
    "type" "SettlementRunType" NOT NULL,
    "businessDate" DATE NOT NULL,
    "seriesId" UUID NOT NULL,
    "status" "SettlementRunStatus" NOT NULL DEFAULT 'PENDING',
    "phase" VARCHAR(10) NOT NULL DEFAULT 'VM',
    "cursorMemberId" UUID,
    "priceFen" BIGINT,
    "totalItems" INTEGER NOT NULL DEFAULT 0,
    "processedItems" INTEGER NOT NULL DEFAULT 0,
    "transferCount" INTEGER NOT NULL DEFAULT 0,
    "totalMovedFen" BIGINT NOT NULL DEFAULT 0,
    "checksum" VARCHAR(64),
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "requestedBy" UUID,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMPTZ(3),
    "finishedAt" TIMESTAMPTZ(3),

    CONSTRAINT "settlement_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "settlement_prices" (
    "seriesId" UUID NOT NULL,
    "businessDate" DATE NOT NULL,
    "priceFen" BIGINT NOT NULL,
    "method" "PriceMethod" NOT NULL,
    "details" JSONB NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "settlement_prices_pkey" PRIMARY KEY ("seriesId","businessDate")
);

-- CreateTable
CREATE TABLE "index_fixings" (
    "id" UUID NOT NULL,
    "seriesId" UUID NOT NULL,
    "priceFen" BIGINT NOT NULL,
    "source" VARCHAR(200) NOT NULL,
    "asOf" TIMESTAMPTZ(3) NOT NULL,
    "createdBy" UUID,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "index_fixings_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "margin_calls" (
    "id" UUID NOT NULL,
    "memberId" UUID NOT NULL,
    "runId" UUID,
    "businessDate" DATE NOT NULL,
    "amountFen" BIGINT NOT NULL,
    "dueAt" TIMESTAMPTZ(3) NOT NULL,
    "status" "MarginCallStatus" NOT NULL DEFAULT 'OPEN',
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "closedAt" TIMESTAMPTZ(3),

    CONSTRAINT "margin_calls_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "settlement_runs_type_businessDate_seriesId_key" ON "settlement_runs"("type", "businessDate", "seriesId");

-- CreateIndex
CREATE INDEX "index_fixings_seriesId_createdAt_idx" ON "index_fixings"("seriesId", "createdAt");

-- CreateIndex
CREATE INDEX "margin_calls_memberId_status_idx" ON "margin_calls"("memberId", "status");

-- CreateIndex
CREATE INDEX "margin_calls_status_dueAt_idx" ON "margin_calls"("status", "dueAt");
