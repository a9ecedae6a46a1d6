-- A job has at most one verification re-run. Finding whether it has one scanned every delivery
-- job (no index held "verifiesJobId"): 7 ms a sampled batch in bench:delivery, growing with the
-- table. Partial, so the jobs that are not re-runs (nearly all) add no entry on their writes.
-- Not modelled in schema.prisma (Prisma has no partial indexes); the drift check keeps it.
CREATE UNIQUE INDEX "delivery_jobs_verifiesJobId_key" ON "delivery_jobs" ("verifiesJobId") WHERE "verifiesJobId" IS NOT NULL;
