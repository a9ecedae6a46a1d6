-- AlterTable
ALTER TABLE "withdrawals" ADD COLUMN     "firstApprovedAt" TIMESTAMPTZ(3),
ADD COLUMN     "firstApprovedByKeyId" UUID,
ADD COLUMN     "firstApprovedByStaffId" UUID;
