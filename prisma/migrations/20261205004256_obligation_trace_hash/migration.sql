-- AlterTable
ALTER TABLE "delivery_obligations" ADD COLUMN     "traceHash" VARCHAR(64);
