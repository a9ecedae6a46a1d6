-- AlterTable
ALTER TABLE "delivery_jobs" ADD COLUMN     "submissionId" UUID;