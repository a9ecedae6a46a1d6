-- CreateEnum
CREATE TYPE "StaffStatus" AS ENUM ('PENDING', 'ACTIVE', 'REJECTED');

-- AlterTable
ALTER TABLE "api_keys" ADD COLUMN     "staffId" UUID;

-- CreateTable
CREATE TABLE "staff" (
    "id" UUID NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "status" "StaffStatus" NOT NULL DEFAULT 'PENDING',
    "origin" VARCHAR(20) NOT NULL,
    "proposedBy" UUID,
    "decidedBy" UUID,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "decidedAt" TIMESTAMPTZ(3),

    CONSTRAINT "staff_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "staff_status_createdAt_idx" ON "staff"("status", "createdAt");

-- CreateIndex
CREATE INDEX "api_keys_staffId_idx" ON "api_keys"("staffId");

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_staffId_fkey" FOREIGN KEY ("staffId") REFERENCES "staff"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- Release 1 treated each clearing key as a person; each existing clearing key becomes its own
-- staff member (named after the key's label), so no four-eyes pair changes meaning.
INSERT INTO "staff" (id, name, status, origin, "createdAt", "decidedAt")
SELECT k.id, COALESCE(k.label, 'clearing key ' || left(k.id::text, 8)), 'ACTIVE', 'MIGRATED', k."createdAt", k."createdAt"
FROM "api_keys" k WHERE k.role = 'clearing';
UPDATE "api_keys" SET "staffId" = id WHERE role = 'clearing';

-- Every clearing key belongs to a person; other roles' keys belong to none. (A trigger rather than
-- a CHECK constraint: Prisma's schema engine cannot diff a CHECK it does not model.)
CREATE FUNCTION api_keys_staff_matches_role() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.role = 'clearing') <> (NEW."staffId" IS NOT NULL) THEN
    RAISE EXCEPTION 'a clearing key belongs to exactly one person; other keys to none' USING ERRCODE = 'TCS01';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER api_keys_staff_matches_role BEFORE INSERT OR UPDATE ON "api_keys"
  FOR EACH ROW EXECUTE FUNCTION api_keys_staff_matches_role();
