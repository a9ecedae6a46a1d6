-- The ESCROW reconciliation check sums each obligation's escrow moves (fund, release, refund,
-- penalties). Without an index it read every transfer to find them: 45 ms of a 390 ms
-- reconciliation at a million transfers in bench:reconciliation, whose transfers are all
-- member-to-member. Partial on "obligationId" IS NOT NULL, so the postings that are not an
-- obligation's (variation margin, fees, deposits, the bulk of the ledger) add no entry; on the
-- partitioned table, so every month's partition has its own.
-- Not modelled in schema.prisma (Prisma has no partial indexes); the drift check keeps it.
CREATE INDEX "transfers_obligation_idx" ON "transfers" ("obligationId") WHERE "obligationId" IS NOT NULL;
