-- CreateEnum
CREATE TYPE "SettlementType" AS ENUM ('CASH', 'PHYSICAL');

-- CreateEnum
CREATE TYPE "SeriesStatus" AS ENUM ('LISTED', 'TRADING', 'EXPIRED', 'IN_DELIVERY', 'SETTLED');

-- CreateEnum
CREATE TYPE "Side" AS ENUM ('BUY', 'SELL');

-- CreateEnum
CREATE TYPE "TimeInForce" AS ENUM ('GTC', 'IOC');

-- CreateEnum
CREATE TYPE "OrderStatus" AS ENUM ('OPEN', 'PARTIALLY_FILLED', 'FILLED', 'CANCELLED');

-- CreateTable
CREATE TABLE "products" (
    "id" UUID NOT NULL,
    "code" VARCHAR(32) NOT NULL,
    "modelClass" VARCHAR(64) NOT NULL,
    "contractSizeTokens" BIGINT NOT NULL,
    "tickFen" BIGINT NOT NULL,
    "settlementType" "SettlementType" NOT NULL,
    "initialMarginBp" INTEGER NOT NULL,
    "maintenanceMarginBp" INTEGER NOT NULL,
    "dailyPriceLimitBp" INTEGER,
    "feePerContractFen" BIGINT NOT NULL,
    "penaltyBp" INTEGER NOT NULL,
    "maxTtftMs" INTEGER NOT NULL,
    "minTokensPerSecond" INTEGER NOT NULL,
    "regions" TEXT[],
    "inputTokenWeightBp" INTEGER NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "products_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "series" (
    "id" UUID NOT NULL,
    "code" VARCHAR(40) NOT NULL,
    "productId" UUID NOT NULL,
    "status" "SeriesStatus" NOT NULL DEFAULT 'LISTED',
    "tradingStartAt" TIMESTAMPTZ(3) NOT NULL,
    "lastTradingAt" TIMESTAMPTZ(3) NOT NULL,
    "deliveryStart" TIMESTAMPTZ(3) NOT NULL,
    "deliveryEnd" TIMESTAMPTZ(3) NOT NULL,
    "referencePriceFen" BIGINT NOT NULL,
    "lastSettlementPriceFen" BIGINT,
    "lastSettlementDate" DATE,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "series_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "orders" (
    "id" UUID NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "seriesId" UUID NOT NULL,
    "memberId" UUID NOT NULL,
    "side" "Side" NOT NULL,
    "priceFen" BIGINT NOT NULL,
    "quantity" INTEGER NOT NULL,
    "filledQuantity" INTEGER NOT NULL DEFAULT 0,
    "status" "OrderStatus" NOT NULL,
    "timeInForce" "TimeInForce" NOT NULL,
    "clientOrderId" VARCHAR(64),
    "cancelReason" VARCHAR(40),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "orders_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "trades" (
    "id" UUID NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "seriesId" UUID NOT NULL,
    "priceFen" BIGINT NOT NULL,
    "quantity" INTEGER NOT NULL,
    "buyerId" UUID NOT NULL,
    "sellerId" UUID NOT NULL,
    "buyOrderId" UUID,
    "sellOrderId" UUID,
    "block" BOOLEAN NOT NULL DEFAULT false,
    "businessDate" DATE NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "trades_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "positions" (
    "memberId" UUID NOT NULL,
    "seriesId" UUID NOT NULL,
    "longQty" INTEGER NOT NULL DEFAULT 0,
    "shortQty" INTEGER NOT NULL DEFAULT 0,
    "marginHeldFen" BIGINT NOT NULL DEFAULT 0,
    "firstLongAt" TIMESTAMPTZ(3),
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "positions_pkey" PRIMARY KEY ("memberId","seriesId")
);

-- CreateIndex
CREATE UNIQUE INDEX "products_code_key" ON "products"("code");

-- CreateIndex
CREATE UNIQUE INDEX "series_code_key" ON "series"("code");

-- CreateIndex
CREATE INDEX "orders_seriesId_side_status_priceFen_seq_idx" ON "orders"("seriesId", "side", "status", "priceFen", "seq");

-- CreateIndex
CREATE INDEX "orders_memberId_status_idx" ON "orders"("memberId", "status");

-- CreateIndex
CREATE UNIQUE INDEX "orders_memberId_clientOrderId_key" ON "orders"("memberId", "clientOrderId");

-- CreateIndex
CREATE INDEX "trades_seriesId_seq_idx" ON "trades"("seriesId", "seq");

-- CreateIndex
CREATE INDEX "trades_buyerId_seq_idx" ON "trades"("buyerId", "seq");

-- CreateIndex
CREATE INDEX "trades_sellerId_seq_idx" ON "trades"("sellerId", "seq");

-- CreateIndex
CREATE INDEX "positions_seriesId_idx" ON "positions"("seriesId");

-- AddForeignKey
ALTER TABLE "series" ADD CONSTRAINT "series_productId_fkey" FOREIGN KEY ("productId") REFERENCES "products"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
