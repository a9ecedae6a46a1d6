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

-- Every clearing key belongs to a person; other roles' keys belong to none.
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_clearing_has_staff" CHECK ((role = 'clearing') = ("staffId" IS NOT NULL));
