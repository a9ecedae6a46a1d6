-- CreateEnum
CREATE TYPE "IndexFixingStatus" AS ENUM ('PROPOSED', 'PUBLISHED', 'REJECTED');

-- AlterTable
ALTER TABLE "products" ADD COLUMN     "indexCode" VARCHAR(32);

-- CreateTable
CREATE TABLE "token_indices" (
    "code" VARCHAR(32) NOT NULL,
    "modelClass" VARCHAR(64) NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "token_indices_pkey" PRIMARY KEY ("code")
);

-- CreateTable
CREATE TABLE "token_index_fixings" (
    "id" UUID NOT NULL,
    "indexCode" VARCHAR(32) NOT NULL,
    "businessDate" DATE NOT NULL,
    "priceFen" BIGINT NOT NULL,
    "method" VARCHAR(20) NOT NULL,
    "volumeTokens" BIGINT NOT NULL,
    "inputs" JSONB NOT NULL,
    "status" "IndexFixingStatus" NOT NULL DEFAULT 'PUBLISHED',
    "correctsId" UUID,
    "reason" VARCHAR(2000),
    "proposedBy" UUID,
    "approvedBy" UUID,
    "chainSeq" BIGINT,
    "prevHash" VARCHAR(64),
    "hash" VARCHAR(64),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "publishedAt" TIMESTAMPTZ(3),

    CONSTRAINT "token_index_fixings_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "token_indices_modelClass_key" ON "token_indices"("modelClass");

-- CreateIndex
CREATE INDEX "token_index_fixings_indexCode_businessDate_idx" ON "token_index_fixings"("indexCode", "businessDate");

-- CreateIndex
CREATE UNIQUE INDEX "token_index_fixings_indexCode_chainSeq_key" ON "token_index_fixings"("indexCode", "chainSeq");

-- One original fixing per index and business date (corrections name the fixing they correct).
CREATE UNIQUE INDEX "token_index_fixings_original_key" ON "token_index_fixings" ("indexCode", "businessDate") WHERE "correctsId" IS NULL;

-- Published fixings are never restated: an UPDATE may only publish or reject a PROPOSED
-- correction, and no fixing is ever deleted.
CREATE FUNCTION token_index_fixings_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'token index fixings are never deleted' USING ERRCODE = 'TCI01';
  END IF;
  IF OLD.status <> 'PROPOSED' THEN
    RAISE EXCEPTION 'a published or rejected token index fixing is never changed; publish a correction' USING ERRCODE = 'TCI01';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER token_index_fixings_immutable BEFORE UPDATE OR DELETE ON "token_index_fixings"
  FOR EACH ROW EXECUTE FUNCTION token_index_fixings_immutable();

INSERT INTO "token_indices" (code, "modelClass") VALUES
  ('TTI-8B', 'llm-8b-instruct'), ('TTI-70B', 'llm-70b-instruct'), ('TTI-400B', 'llm-400b-moe');
