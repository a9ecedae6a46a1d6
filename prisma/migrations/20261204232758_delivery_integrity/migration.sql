-- CreateEnum
CREATE TYPE "VerificationStatus" AS ENUM ('NONE', 'PENDING', 'PASSED', 'FAILED');

-- AlterTable
ALTER TABLE "delivery_jobs" ADD COLUMN     "meteringFlagged" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "similarityBp" INTEGER,
ADD COLUMN     "timingFlagged" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "verification" "VerificationStatus" NOT NULL DEFAULT 'NONE',
ADD COLUMN     "verifierNodeId" UUID,
ADD COLUMN     "verifiesJobId" UUID;

-- AlterTable
ALTER TABLE "products" ADD COLUMN     "meteringToleranceBp" INTEGER NOT NULL DEFAULT 200,
ADD COLUMN     "tokenizer" VARCHAR(32),
ADD COLUMN     "verificationBp" INTEGER NOT NULL DEFAULT 200,
ADD COLUMN     "verificationThresholdBp" INTEGER NOT NULL DEFAULT 9000;

-- AlterTable
ALTER TABLE "usage_records" ADD COLUMN     "discrepancyBp" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "outputSha256" VARCHAR(64),
ADD COLUMN     "reportedCompletionTokens" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "reportedDurationMs" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "reportedPromptTokens" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "reportedTtftMs" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "tokenizer" VARCHAR(32),
ADD COLUMN     "usageEstimated" BOOLEAN NOT NULL DEFAULT false;
