-- CreateIndex
CREATE INDEX "transfers_settlementRunId_idx" ON "transfers"("settlementRunId");
