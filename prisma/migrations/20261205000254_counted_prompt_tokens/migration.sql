-- AlterTable
ALTER TABLE "delivery_jobs" ADD COLUMN     "countedPromptTokens" INTEGER;
