-- AlterTable
ALTER TABLE "outbox_messages" DROP COLUMN "delayMs",
ADD COLUMN "notBefore" TIMESTAMPTZ(3);
