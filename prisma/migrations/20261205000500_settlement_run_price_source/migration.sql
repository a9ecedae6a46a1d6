-- An EXPIRY run records where its final price came from (clearing's recorded index fixing, or a
-- TokenClear token index fixing: index, fixing id, business date, hash).
ALTER TABLE "settlement_runs" ADD COLUMN "priceSource" JSONB;
