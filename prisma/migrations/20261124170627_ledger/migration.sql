-- CreateEnum
CREATE TYPE "AccountType" AS ENUM ('CASH', 'MARGIN', 'ESCROW', 'PENDING', 'CCP_SETTLEMENT', 'CCP_FEES', 'CCP_PENALTIES', 'BANK_SETTLEMENT');

-- CreateEnum
CREATE TYPE "TransferKind" AS ENUM ('DEPOSIT', 'WITHDRAWAL_HOLD', 'WITHDRAWAL', 'WITHDRAWAL_RELEASE', 'MARGIN_LOCK', 'MARGIN_RELEASE', 'VARIATION_MARGIN', 'FEE', 'ESCROW_FUND', 'ESCROW_RELEASE', 'ESCROW_REFUND', 'PENALTY', 'ADJUSTMENT');

-- CreateEnum
CREATE TYPE "WithdrawalStatus" AS ENUM ('PENDING', 'APPROVED', 'REJECTED');

-- CreateTable
CREATE TABLE "ledger_accounts" (
    "id" UUID NOT NULL,
    "code" VARCHAR(100) NOT NULL,
    "memberId" UUID,
    "type" "AccountType" NOT NULL,
    "mustNotGoNegative" BOOLEAN NOT NULL,
    "balanceFen" BIGINT NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ledger_accounts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "transfers" (
    "id" UUID NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "idempotencyKey" VARCHAR(300) NOT NULL,
    "debitAccountId" UUID NOT NULL,
    "creditAccountId" UUID NOT NULL,
    "amountFen" BIGINT NOT NULL,
    "kind" "TransferKind" NOT NULL,
    "businessDate" DATE NOT NULL,
    "settlementRunId" UUID,
    "tradeId" UUID,
    "obligationId" UUID,
    "jobId" UUID,
    "withdrawalId" UUID,
    "reference" VARCHAR(200),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "transfers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "withdrawals" (
    "id" UUID NOT NULL,
    "memberId" UUID NOT NULL,
    "amountFen" BIGINT NOT NULL,
    "status" "WithdrawalStatus" NOT NULL DEFAULT 'PENDING',
    "requestedByKeyId" UUID NOT NULL,
    "decidedByKeyId" UUID,
    "decidedAt" TIMESTAMPTZ(3),
    "reason" VARCHAR(500),
    "businessDate" DATE NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "withdrawals_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "ledger_accounts_code_key" ON "ledger_accounts"("code");

-- CreateIndex
CREATE UNIQUE INDEX "ledger_accounts_memberId_type_key" ON "ledger_accounts"("memberId", "type");

-- CreateIndex
CREATE UNIQUE INDEX "transfers_idempotencyKey_key" ON "transfers"("idempotencyKey");

-- CreateIndex
CREATE INDEX "transfers_debitAccountId_seq_idx" ON "transfers"("debitAccountId", "seq");

-- CreateIndex
CREATE INDEX "transfers_creditAccountId_seq_idx" ON "transfers"("creditAccountId", "seq");

-- CreateIndex
CREATE INDEX "transfers_debitAccountId_businessDate_idx" ON "transfers"("debitAccountId", "businessDate");

-- CreateIndex
CREATE INDEX "transfers_creditAccountId_businessDate_idx" ON "transfers"("creditAccountId", "businessDate");

-- CreateIndex
CREATE INDEX "withdrawals_memberId_createdAt_idx" ON "withdrawals"("memberId", "createdAt");

-- CreateIndex
CREATE INDEX "withdrawals_status_idx" ON "withdrawals"("status");

-- AddForeignKey
ALTER TABLE "transfers" ADD CONSTRAINT "transfers_debitAccountId_fkey" FOREIGN KEY ("debitAccountId") REFERENCES "ledger_accounts"("id") ON DELETE RESTRICT ON UPDATE RESTRICT;

-- AddForeignKey
ALTER TABLE "transfers" ADD CONSTRAINT "transfers_creditAccountId_fkey" FOREIGN KEY ("creditAccountId") REFERENCES "ledger_accounts"("id") ON DELETE RESTRICT ON UPDATE RESTRICT;

-- Money invariants the database itself enforces, whatever code path writes. (Triggers, not CHECK
-- constraints: the WASM schema engine's Postgres describer panics on CHECK constraints.)

CREATE FUNCTION transfers_check_row() RETURNS trigger AS $$
BEGIN
  IF NEW."amountFen" <= 0 THEN
    RAISE EXCEPTION 'transfer amount must be positive (got %)', NEW."amountFen" USING ERRCODE = 'check_violation';
  END IF;
  IF NEW."debitAccountId" = NEW."creditAccountId" THEN
    RAISE EXCEPTION 'transfer debit and credit accounts must differ' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER transfers_check BEFORE INSERT ON "transfers" FOR EACH ROW EXECUTE FUNCTION transfers_check_row();

-- Transfers are immutable.
CREATE FUNCTION transfers_refuse_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'transfers are immutable (% refused); post a correcting transfer', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER transfers_immutable BEFORE UPDATE OR DELETE ON "transfers" FOR EACH ROW EXECUTE FUNCTION transfers_refuse_change();

-- House accounts exist from the first migration on; member accounts are created with the member.
INSERT INTO "ledger_accounts" ("id", "code", "memberId", "type", "mustNotGoNegative") VALUES
  (gen_random_uuid(), 'ccp:settlement', NULL, 'CCP_SETTLEMENT', false),
  (gen_random_uuid(), 'ccp:fees', NULL, 'CCP_FEES', false),
  (gen_random_uuid(), 'ccp:penalties', NULL, 'CCP_PENALTIES', false),
  (gen_random_uuid(), 'bank:settlement', NULL, 'BANK_SETTLEMENT', false);
