-- CreateEnum
CREATE TYPE "SeriesEventKind" AS ENUM ('PAUSED', 'RESUMED');

-- CreateEnum
CREATE TYPE "MarginCallType" AS ENUM ('VARIATION', 'MAINTENANCE');

-- AlterTable
ALTER TABLE "margin_calls" ADD COLUMN     "type" "MarginCallType" NOT NULL DEFAULT 'VARIATION';

-- AlterTable
ALTER TABLE "products" ADD COLUMN     "circuitBreakerBp" INTEGER,
ADD COLUMN     "circuitBreakerPauseSeconds" INTEGER NOT NULL DEFAULT 120,
ADD COLUMN     "concentrationAddOnBp" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "concentrationThresholdBp" INTEGER NOT NULL DEFAULT 10000,
ADD COLUMN     "positionLimit" INTEGER,
ADD COLUMN     "spotMonthLimit" INTEGER,
ADD COLUMN     "spreadChargeBp" INTEGER;

-- AlterTable
ALTER TABLE "series" ADD COLUMN     "anchorAt" TIMESTAMPTZ(3),
ADD COLUMN     "anchorPriceFen" BIGINT,
ADD COLUMN     "pausedUntil" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "series_events" (
    "id" UUID NOT NULL,
    "seriesId" UUID NOT NULL,
    "kind" "SeriesEventKind" NOT NULL,
    "priceFen" BIGINT,
    "anchorFen" BIGINT,
    "at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "series_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "portfolio_margins" (
    "memberId" UUID NOT NULL,
    "productId" UUID NOT NULL,
    "adjustmentFen" BIGINT NOT NULL DEFAULT 0,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "portfolio_margins_pkey" PRIMARY KEY ("memberId","productId")
);

-- CreateIndex
CREATE INDEX "series_events_seriesId_at_idx" ON "series_events"("seriesId", "at");

-- CreateIndex
CREATE INDEX "trades_seriesId_createdAt_idx" ON "trades"("seriesId", "createdAt");

-- AddForeignKey
ALTER TABLE "series_events" ADD CONSTRAINT "series_events_seriesId_fkey" FOREIGN KEY ("seriesId") REFERENCES "series"("id") ON DELETE CASCADE ON UPDATE CASCADE;
