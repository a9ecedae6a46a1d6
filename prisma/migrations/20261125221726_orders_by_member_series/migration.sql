-- CreateIndex
CREATE INDEX "orders_memberId_seriesId_status_idx" ON "orders"("memberId", "seriesId", "status");
