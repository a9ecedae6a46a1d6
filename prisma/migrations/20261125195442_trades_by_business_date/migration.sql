-- CreateIndex
CREATE INDEX "trades_businessDate_idx" ON "trades"("businessDate");
