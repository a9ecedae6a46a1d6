-- Attempts the egress policy refused at send time (nothing was sent).
ALTER TABLE "webhook_deliveries" ADD COLUMN     "refused" BOOLEAN NOT NULL DEFAULT false;
