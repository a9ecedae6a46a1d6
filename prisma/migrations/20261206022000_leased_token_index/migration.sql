-- Whether a node-queue entry still leases a job (its lease token on a LEASED job) is asked after
-- every completion batch and every failure. With no index on "leaseToken" it walked every LEASED
-- job through (status, leaseExpiresAt): 3.7 ms a call in bench:delivery, a thousand jobs leased
-- at once. Partial on a lease that runs ("leaseExpiresAt" is set by the claim and the heartbeats
-- and cleared by every way out of LEASED), so finished jobs add no entry; the query states its
-- status test so the status index cannot serve it (see JobBatchRepository.openLeases).
-- Not modelled in schema.prisma (Prisma has no partial indexes); the drift check keeps it.
CREATE INDEX "delivery_jobs_leased_token_idx" ON "delivery_jobs" ("leaseToken") WHERE "leaseExpiresAt" IS NOT NULL;
