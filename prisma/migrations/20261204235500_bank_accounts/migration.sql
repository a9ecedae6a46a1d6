-- CreateEnum
CREATE TYPE "BankAccountStatus" AS ENUM ('PENDING', 'VERIFIED', 'REJECTED');

-- CreateEnum
CREATE TYPE "PaymentStatusOutcome" AS ENUM ('CONFIRMED', 'RETURNED', 'NOTED', 'UNKNOWN', 'CONFLICT', 'DUPLICATE');

-- AlterEnum
ALTER TYPE "PaymentInstructionStatus" ADD VALUE 'REJECTED';
ALTER TYPE "PaymentInstructionStatus" ADD VALUE 'ACCEPTED';

-- AlterEnum
ALTER TYPE "TransferKind" ADD VALUE 'WITHDRAWAL_RETURN';

-- AlterTable
ALTER TABLE "bank_statements" ADD COLUMN     "closingFen" BIGINT,
ADD COLUMN     "computedClosingFen" BIGINT,
ADD COLUMN     "openingFen" BIGINT;

-- AlterTable
ALTER TABLE "withdrawals" ADD COLUMN     "bankAccountId" UUID;

-- CreateTable
CREATE TABLE "bank_accounts" (
    "id" UUID NOT NULL,
    "memberId" UUID NOT NULL,
    "bankCode" CHAR(12) NOT NULL,
    "accountNumber" VARCHAR(34) NOT NULL,
    "holderName" VARCHAR(140) NOT NULL,
    "status" "BankAccountStatus" NOT NULL DEFAULT 'PENDING',
    "proposedByKeyId" UUID NOT NULL,
    "proposedByStaffId" UUID,
    "decidedByKeyId" UUID,
    "decidedByStaffId" UUID,
    "decidedAt" TIMESTAMPTZ(3),
    "reason" VARCHAR(500),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "bank_accounts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payment_status_reports" (
    "id" UUID NOT NULL,
    "fileHash" VARCHAR(64) NOT NULL,
    "messageId" VARCHAR(35) NOT NULL,
    "originalMessageId" VARCHAR(35) NOT NULL,
    "transactions" INTEGER NOT NULL,
    "uploadedBy" UUID,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "payment_status_reports_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payment_status_entries" (
    "id" UUID NOT NULL,
    "reportId" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "endToEndId" VARCHAR(35) NOT NULL,
    "status" VARCHAR(4),
    "reasonCode" VARCHAR(35),
    "reasonInfo" VARCHAR(500),
    "outcome" "PaymentStatusOutcome" NOT NULL,
    "instructionId" UUID,
    "memberId" UUID,
    "amountFen" BIGINT,
    "transferId" UUID,
    "detail" VARCHAR(300),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "payment_status_entries_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "bank_accounts_memberId_createdAt_idx" ON "bank_accounts"("memberId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "payment_status_reports_fileHash_key" ON "payment_status_reports"("fileHash");

-- CreateIndex
CREATE INDEX "payment_status_entries_reportId_idx" ON "payment_status_entries"("reportId");

-- CreateIndex
CREATE INDEX "payment_status_entries_endToEndId_idx" ON "payment_status_entries"("endToEndId");
