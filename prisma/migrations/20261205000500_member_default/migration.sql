-- AlterEnum
ALTER TYPE "AccountType" ADD VALUE 'GUARANTEE';
ALTER TYPE "AccountType" ADD VALUE 'CCP_CAPITAL';
ALTER TYPE "AccountType" ADD VALUE 'CCP_DEFAULT';

-- AlterEnum
ALTER TYPE "TransferKind" ADD VALUE 'GUARANTEE_CONTRIBUTION';
ALTER TYPE "TransferKind" ADD VALUE 'CAPITAL';
ALTER TYPE "TransferKind" ADD VALUE 'DEFAULT_CLOSE_OUT';
ALTER TYPE "TransferKind" ADD VALUE 'DEFAULT_WATERFALL';
ALTER TYPE "TransferKind" ADD VALUE 'BUY_IN_PREMIUM';

-- CreateEnum
CREATE TYPE "DefaultStatus" AS ENUM ('PROPOSED', 'AUCTION', 'COMPLETED');

-- CreateEnum
CREATE TYPE "StandbyOfferStatus" AS ENUM ('OPEN', 'EXHAUSTED');

-- AlterTable
ALTER TABLE "delivery_obligations" ADD COLUMN     "boughtInTokens" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "replacesObligationId" UUID,
ADD COLUMN     "standbyOfferId" UUID;

-- CreateTable
CREATE TABLE "guarantee_requirements" (
    "memberId" UUID NOT NULL,
    "amountFen" BIGINT NOT NULL,
    "setBy" UUID,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "guarantee_requirements_pkey" PRIMARY KEY ("memberId")
);

-- CreateTable
CREATE TABLE "member_defaults" (
    "id" UUID NOT NULL,
    "memberId" UUID NOT NULL,
    "reason" VARCHAR(500) NOT NULL,
    "status" "DefaultStatus" NOT NULL DEFAULT 'PROPOSED',
    "origin" VARCHAR(10) NOT NULL,
    "proposedByStaffId" UUID,
    "proposedByKeyId" UUID,
    "approvedByStaffId" UUID,
    "auctionEndsAt" TIMESTAMPTZ(3),
    "lossFen" BIGINT,
    "coveredFen" BIGINT,
    "uncoveredFen" BIGINT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "approvedAt" TIMESTAMPTZ(3),
    "completedAt" TIMESTAMPTZ(3),

    CONSTRAINT "member_defaults_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "default_lots" (
    "id" UUID NOT NULL,
    "defaultId" UUID NOT NULL,
    "seriesId" UUID NOT NULL,
    "side" VARCHAR(5) NOT NULL,
    "quantity" INTEGER NOT NULL,
    "referencePriceFen" BIGINT NOT NULL,
    "multiplier" BIGINT NOT NULL,
    "soldQuantity" INTEGER NOT NULL DEFAULT 0,
    "tornUpQuantity" INTEGER NOT NULL DEFAULT 0,
    "lossFen" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "default_lots_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "default_bids" (
    "id" UUID NOT NULL,
    "defaultId" UUID NOT NULL,
    "lotId" UUID NOT NULL,
    "bidderId" UUID NOT NULL,
    "priceFen" BIGINT NOT NULL,
    "quantity" INTEGER NOT NULL,
    "awardedQuantity" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "default_bids_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "default_close_outs" (
    "id" UUID NOT NULL,
    "defaultId" UUID NOT NULL,
    "lotId" UUID NOT NULL,
    "kind" VARCHAR(10) NOT NULL,
    "memberId" UUID NOT NULL,
    "bidId" UUID,
    "quantity" INTEGER NOT NULL,
    "priceFen" BIGINT NOT NULL,
    "tradeId" UUID,

    CONSTRAINT "default_close_outs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "default_waterfall_steps" (
    "id" UUID NOT NULL,
    "defaultId" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "layer" VARCHAR(30) NOT NULL,
    "memberId" UUID,
    "amountFen" BIGINT NOT NULL,

    CONSTRAINT "default_waterfall_steps_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "standby_offers" (
    "id" UUID NOT NULL,
    "operatorId" UUID NOT NULL,
    "modelClass" VARCHAR(100) NOT NULL,
    "regions" TEXT[],
    "tokens" BIGINT NOT NULL,
    "remainingTokens" BIGINT NOT NULL,
    "premiumBp" INTEGER NOT NULL,
    "status" "StandbyOfferStatus" NOT NULL DEFAULT 'OPEN',
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "standby_offers_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "member_defaults_memberId_status_idx" ON "member_defaults"("memberId", "status");

-- CreateIndex
CREATE INDEX "member_defaults_createdAt_id_idx" ON "member_defaults"("createdAt", "id");

-- CreateIndex
CREATE UNIQUE INDEX "default_lots_defaultId_seriesId_key" ON "default_lots"("defaultId", "seriesId");

-- CreateIndex
CREATE INDEX "default_bids_defaultId_createdAt_idx" ON "default_bids"("defaultId", "createdAt");

-- CreateIndex
CREATE INDEX "default_close_outs_defaultId_idx" ON "default_close_outs"("defaultId");

-- CreateIndex
CREATE UNIQUE INDEX "default_waterfall_steps_defaultId_seq_key" ON "default_waterfall_steps"("defaultId", "seq");

-- CreateIndex
CREATE INDEX "standby_offers_modelClass_status_premiumBp_idx" ON "standby_offers"("modelClass", "status", "premiumBp");

-- CreateIndex
CREATE INDEX "standby_offers_operatorId_createdAt_idx" ON "standby_offers"("operatorId", "createdAt");
