-- CreateEnum
CREATE TYPE "PaymentDirection" AS ENUM ('PAY', 'COLLECT');

-- CreateEnum
CREATE TYPE "PaymentInstructionStatus" AS ENUM ('INSTRUCTED', 'CONFIRMED');

-- CreateEnum
CREATE TYPE "BankEntryStatus" AS ENUM ('MATCHED', 'POSTED', 'UNMATCHED', 'MISMATCH', 'DUPLICATE');

-- CreateTable
CREATE TABLE "payment_instructions" (
    "id" UUID NOT NULL,
    "businessDate" DATE NOT NULL,
    "memberId" UUID NOT NULL,
    "direction" "PaymentDirection" NOT NULL,
    "amountFen" BIGINT NOT NULL,
    "endToEndId" VARCHAR(35) NOT NULL,
    "status" "PaymentInstructionStatus" NOT NULL DEFAULT 'INSTRUCTED',
    "confirmedAt" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "payment_instructions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "bank_statements" (
    "id" UUID NOT NULL,
    "fileHash" VARCHAR(64) NOT NULL,
    "format" VARCHAR(10) NOT NULL,
    "statementId" VARCHAR(35) NOT NULL,
    "entries" INTEGER NOT NULL,
    "matched" INTEGER NOT NULL,
    "breaks" INTEGER NOT NULL,
    "uploadedBy" UUID,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "bank_statements_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "bank_statement_entries" (
    "id" UUID NOT NULL,
    "statementId" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "bankRef" VARCHAR(35) NOT NULL,
    "endToEndId" VARCHAR(35),
    "direction" VARCHAR(4) NOT NULL,
    "amountFen" BIGINT NOT NULL,
    "bookingDate" DATE NOT NULL,
    "status" "BankEntryStatus" NOT NULL,
    "matchedType" VARCHAR(30),
    "matchedId" VARCHAR(100),
    "detail" VARCHAR(300),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "bank_statement_entries_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "payment_instructions_endToEndId_key" ON "payment_instructions"("endToEndId");

-- CreateIndex
CREATE UNIQUE INDEX "payment_instructions_businessDate_memberId_key" ON "payment_instructions"("businessDate", "memberId");

-- CreateIndex
CREATE UNIQUE INDEX "bank_statements_fileHash_key" ON "bank_statements"("fileHash");

-- CreateIndex
CREATE INDEX "bank_statement_entries_bankRef_idx" ON "bank_statement_entries"("bankRef");

-- CreateIndex
CREATE INDEX "bank_statement_entries_endToEndId_idx" ON "bank_statement_entries"("endToEndId");
